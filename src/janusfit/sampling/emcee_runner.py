"""emcee with a crash-safe, cheap, resumable checkpoint.

emcee's own ``HDFBackend`` writes every step to HDF5 and makes a cheap
likelihood run an order of magnitude slower (emcee issues #252, #393). Here the
sampler runs on its in-memory backend; every ``checkpoint_steps`` steps or
``checkpoint_seconds`` seconds, whichever comes first, the new steps are
committed to disk as one *segment* file (an npz with its sha256 sidecar) that
also carries the ensemble's end state: positions, log-probabilities, the
random state, and the stopping rule's last τ. The in-memory backend is then
emptied, so memory stays bounded by one segment.

A segment is the unit of both the chain and the state: resuming reads the
segments in order, stops at the first one that fails its checksum (moving it
and all later ones aside), and continues from the end state of the last good
one. Since the random state is part of it, a resumed chain is bit-for-bit the
chain of an uninterrupted run with the same seed, and at most one segment of
work is recomputed.

The stopping rule (N > ``n_over_tau`` τ_max and τ changed by less than
``tau_rel_change`` since the previous check) is evaluated at fixed multiples of
``check_every`` steps with emcee's τ of the whole chain, accumulated in bounded
memory (:class:`~.autocorr.AutocorrTime`), so its decisions do not depend on
when a run was interrupted either. Each segment records the
rule it was decided with. The rule and ``max_steps`` do not change the draws,
so a checkpoint resumes under new ones, but its decisions are then taken again
over the stored chain with the current rule: the chain stops where an
uninterrupted run with the current settings would have stopped (the steps
after that stay in the checkpoint), or continues from its end.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import asdict, dataclass

import numpy as np

from ..errors import CheckpointError, ConfigError
from ..imports import import_emcee
from ..settings import EmceeSettings, minimum_walkers
from .autocorr import AutocorrTime
from .domain import require_domain_overlap
from .emcee_hdf5 import write_emcee_hdf5
from .progress import EmceeProgress
from .segments import SegmentChain, encode_segment
from .session import CheckpointSession

emcee = import_emcee()


@dataclass
class EmceeResult:
    n_steps: int
    converged: bool
    stop_reason: str
    tau: list
    tau_resolved: list
    tau_history: list
    resumes: list
    acceptance: list
    elapsed_s: float

    def to_json(self) -> dict:
        return asdict(self)


MOVES = {
    # Differential evolution keeps the acceptance fraction within 0.2–0.5 down
    # to one parameter, where the stretch move accepts ~80% of proposals and
    # its autocorrelation time is ~5× longer (measured on JLA, flat ΛCDM).
    "de": lambda: emcee.moves.DEMove(),
    "de_snooker": lambda: [(emcee.moves.DEMove(), 0.8), (emcee.moves.DESnookerMove(), 0.2)],
    "stretch": lambda: emcee.moves.StretchMove(),
}


def converged_at_check(
    it: int, tau: np.ndarray, resolved: np.ndarray, last_tau: np.ndarray, settings: EmceeSettings
) -> bool:
    """The stopping rule at a check: every τ resolved, N > n_over_tau τ_max, and τ changed by < tau_rel_change."""
    return bool(
        np.all(resolved)
        and it > settings.n_over_tau * np.max(tau)
        and np.all(np.abs(tau - last_tau) / tau < settings.tau_rel_change)
    )


class StoppingRule:
    """The stopping rule's decisions so far: τ at the last check, τ_max at every check, and why it stopped."""

    def __init__(self, settings: EmceeSettings, ndim: int):
        self.settings = settings
        self.last_tau = np.full(ndim, np.nan)
        self.tau_history: list = []
        self.stop_reason = ""

    def check(self, it: int, autocorr: AutocorrTime) -> None:
        """Take the decision at step ``it``, a multiple of ``check_every``, from the chain up to it."""
        tau, resolved = autocorr.tau()
        self.tau_history.append((it, float(np.max(tau))))
        if converged_at_check(it, tau, resolved, self.last_tau, self.settings) and self.settings.stop_on_convergence:
            self.stop_reason = "converged"
        self.last_tau = tau

    def restore(self, state: dict) -> None:
        self.last_tau, self.tau_history, self.stop_reason = (
            state["last_tau"],
            state["tau_history"],
            state["stop_reason"],
        )


def initial_positions(posterior, n_walkers: int, rng: np.random.Generator, max_tries: int = 1000) -> np.ndarray:
    """Walkers drawn from the prior where the posterior is finite.

    JANUS excludes part of its prior (1 + 2 q0 z > 0 must hold at every
    redshift), so plain prior draws may start walkers at −inf.
    """
    lo, hi = posterior.bounds[:, 0], posterior.bounds[:, 1]
    kept = []
    for _ in range(max_tries):
        draws = lo + rng.random((n_walkers, len(lo))) * (hi - lo)
        kept.extend(draws[np.isfinite(posterior(draws))])
        if len(kept) >= n_walkers:
            return np.array(kept[:n_walkers])
    raise ConfigError(
        f"priors.{posterior.model.name}",
        f"fewer than {n_walkers} of {max_tries * n_walkers} prior draws have a finite posterior "
        f"for model '{posterior.model.name}': the prior ({dict(zip(posterior.param_names, posterior.bounds.tolist()))}) "
        "barely overlaps the region where the model exists",
    )


def time_steps(posterior, settings: EmceeSettings, min_steps: int = 20, min_s: float = 1.0) -> float:
    """Wall time (s) of one step of ``settings``' ensemble on ``posterior``, from a short real run.

    For the runtime estimate: the move and emcee's bookkeeping cost about as
    much per walker as a cheap likelihood and vary with the machine and its
    load as the likelihood does, so they are timed, not assumed. The walkers
    start in a small ball around the best of their prior draws, as a
    converged ensemble is: spread over the prior, many proposals would fall
    where the model does not exist, whose posterior costs nothing, and a
    JANUS step looked twice as cheap as in the run. After five warm-up steps
    (numba's compilation, caches), steps run until at least ``min_steps`` and
    ``min_s`` seconds; nothing is stored.
    """
    rng = np.random.default_rng(settings.seed)
    draws = initial_positions(posterior, settings.n_walkers, rng)
    best = draws[np.argmax(posterior(draws))]
    ball = best + 1e-4 * (posterior.bounds[:, 1] - posterior.bounds[:, 0]) * rng.standard_normal(draws.shape)
    ball[~np.isfinite(posterior(ball))] = best
    sampler = emcee.EnsembleSampler(
        settings.n_walkers, posterior.ndim, posterior, vectorize=True, moves=MOVES[settings.moves]()
    )
    state = sampler.run_mcmc(ball, 5, store=False)
    steps, start = 0, time.perf_counter()
    for _ in sampler.sample(state, iterations=1 << 62, store=False):
        steps += 1
        if steps >= min_steps and time.perf_counter() - start >= min_s:
            break
    return (time.perf_counter() - start) / steps


def run_emcee(
    posterior, settings: EmceeSettings, session: CheckpointSession, chain_path, log=print, warn=None
) -> EmceeResult:
    """Sample to ``settings.max_steps`` or convergence, resuming from the checkpoint in ``session``.

    Progress (``progress.json``, and ``progress.png`` when
    ``settings.progress_figure``) goes beside the checkpoint; a failure to
    write it goes to ``warn`` (default ``log``) and sampling goes on.
    """
    ndim, nw = posterior.ndim, settings.n_walkers
    if nw < minimum_walkers(ndim):
        raise ConfigError(
            "emcee.n_walkers", f"{nw} walkers for {ndim} parameters; emcee needs at least {minimum_walkers(ndim)}"
        )
    if nw % 2:
        raise ConfigError("emcee.n_walkers", f"must be even (the stretch move splits walkers in two halves), got {nw}")
    if settings.moves not in MOVES:
        raise ConfigError("emcee.moves", f"unknown move '{settings.moves}'; choose one of {', '.join(MOVES)}")
    require_domain_overlap(posterior)
    segments = SegmentChain(session.dir / "segments", log=log, guard=session.verify_lease)
    sampler = emcee.EnsembleSampler(nw, ndim, posterior, vectorize=True, moves=MOVES[settings.moves]())
    autocorr = AutocorrTime(settings.tau_max_lag)
    rule = StoppingRule(settings, ndim)
    progress = EmceeProgress(
        session.dir, settings, posterior.param_names, posterior.labels, warn=log if warn is None else warn
    )
    state = segments.state()
    cut = None  # where the stored chain ends under the current settings, if before its end
    if state is None:
        session.forget_resumes_from(0)  # none left to resume: every damaged segment was set aside
        current = _initial_state(posterior, settings, sampler)
    else:
        if state["coords"].shape != (nw, ndim):
            raise CheckpointError(
                f"checkpoint '{segments.dir}' holds {state['coords'].shape} walkers×parameters, expected {(nw, ndim)}"
            )
        session.record_resume(segments.iteration)
        if state["stop_rule"] == settings.stop_rule() and segments.iteration <= settings.max_steps:
            for c, lp, acc in segments.iter_arrays():
                autocorr.append(c)
                progress.observe(c, lp, acc)
            rule.restore(state)
        else:
            cut = _replay(segments, autocorr, rule, settings, progress)
            log(
                "the stopping rule or max_steps differ from the checkpoint's: its decisions were taken again "
                "with the current settings; the chain "
                + (
                    f"ends at step {cut} ({rule.stop_reason or 'max_steps'})"
                    if cut is not None
                    else f"continues from step {segments.iteration}"
                )
            )
        sampler.random_state = state["random_state"]
        current = emcee.State(state["coords"], log_prob=state["log_prob"], random_state=state["random_state"])

    it = segments.iteration if cut is None else cut
    t_start = time.monotonic()
    it_start = it
    progress.start(it, rule.tau_history, rule.last_tau)
    while cut is None and not rule.stop_reason and it < settings.max_steps:
        target = min(
            settings.max_steps,
            (it // settings.checkpoint_steps + 1) * settings.checkpoint_steps,
            (it // settings.check_every + 1) * settings.check_every,
        )
        seg_start, t_seg = it, time.monotonic()
        sampler.reset()
        for current in sampler.sample(current, iterations=target - it, store=True, skip_initial_state_check=it > 0):
            if session.stop_requested or time.monotonic() - t_seg >= settings.checkpoint_seconds:
                break
        it = seg_start + sampler.iteration
        chain = sampler.get_chain()
        autocorr.append(chain)
        if it % settings.check_every == 0:
            rule.check(it, autocorr)
        log_prob = sampler.get_log_prob()
        segments.append(
            seg_start, encode_segment(chain, log_prob, sampler.backend.accepted, sampler.random_state, rule), it
        )
        progress.observe(chain, log_prob, sampler.backend.accepted)
        progress.checkpoint(it, rule.tau_history, rule.last_tau)
        _log_progress(log, it, settings, sampler, rule.last_tau, t_start, it_start)
        if session.stop_requested:
            raise session.stopped(it)

    pieces, random_state = _pieces(segments, it, posterior, settings, sampler)
    accepted = write_emcee_hdf5(pieces, it, chain_path, nw, ndim, random_state)
    progress.checkpoint(it, rule.tau_history, rule.last_tau, final=True)
    stop_reason = rule.stop_reason or "max_steps"
    # The whole chain's τ, whether or not the run ended at a check.
    tau, resolved = autocorr.tau()
    converged = stop_reason == "converged" or bool(resolved.all() and it > settings.n_over_tau * np.max(tau))
    return EmceeResult(
        n_steps=it,
        converged=converged,
        stop_reason=stop_reason,
        tau=[float(t) for t in tau],
        tau_resolved=[bool(r) for r in resolved],
        tau_history=[list(map(float, r)) for r in rule.tau_history],
        # A chain cut back was rebuilt from its checkpoint where it now ends:
        # no resume beyond that step is of its history.
        resumes=session.resumes if cut is None else [r for r in session.resumes if r < cut] + [cut],
        acceptance=(accepted / max(it, 1)).tolist(),
        elapsed_s=time.monotonic() - t_start,
    )


def _initial_state(posterior, settings: EmceeSettings, sampler) -> emcee.State:
    """Walkers drawn from the prior and the sampler's random state, both from the seed."""
    coords = initial_positions(posterior, settings.n_walkers, np.random.default_rng(settings.seed))
    sampler.random_state = np.random.RandomState(settings.seed).get_state()
    return emcee.State(coords, log_prob=posterior(coords))


def _replay(
    segments: SegmentChain, autocorr: AutocorrTime, rule: StoppingRule, settings: EmceeSettings, progress: EmceeProgress
) -> int | None:
    """Take the stopping rule's decisions again over the stored chain, with the current settings.

    The τ sums commit the same blocks however the chain is split, so every
    τ is the one an uninterrupted run computes at that step. Returns the step
    where the chain stops (converged, or ``max_steps``) if it lies within the
    stored chain, else None: sampling continues from the chain's end.
    """
    every, start = settings.check_every, 0
    for (c, lp, acc), end in zip(segments.iter_arrays(), segments.ends):
        progress.observe(c, lp, acc)
        marks = set(range((start // every + 1) * every, end + 1, every))
        if start < settings.max_steps <= end:
            marks.add(settings.max_steps)
        at = start
        for mark in sorted(marks):
            autocorr.append(c[at - start : mark - start])
            at = mark
            if mark % every == 0:
                rule.check(mark, autocorr)
            if rule.stop_reason or mark == settings.max_steps:
                return mark
        autocorr.append(c[at - start :])
        start = end
    return None


def _pieces(segments: SegmentChain, n: int, posterior, settings: EmceeSettings, sampler):
    """The first ``n`` steps of the chain as (chain, log_prob, accepted) pieces, and the random state after them.

    They are whole segments, unless ``n`` falls inside one (the chain was cut
    by a changed stopping rule or ``max_steps``): that segment's first steps
    are sampled again from the end state of the one before, which gives the
    same draws, their acceptances and the random state after them.
    """
    ends = segments.ends
    whole = sum(1 for end in ends if end <= n)
    start = ends[whole - 1] if whole else 0
    if start == n:
        return segments.iter_arrays(whole), segments.state(whole - 1)["random_state"]
    if whole:
        state = segments.state(whole - 1)
        sampler.random_state = state["random_state"]
        current = emcee.State(state["coords"], log_prob=state["log_prob"], random_state=state["random_state"])
    else:
        current = _initial_state(posterior, settings, sampler)
    sampler.reset()
    sampler.run_mcmc(current, n - start, skip_initial_state_check=start > 0)
    tail = (sampler.get_chain(), sampler.get_log_prob(), sampler.backend.accepted)
    return itertools.chain(segments.iter_arrays(whole), [tail]), sampler.random_state


def _log_progress(log, it, settings, sampler, tau, t_start, it_start) -> None:
    elapsed = time.monotonic() - t_start
    rate = (it - it_start) / elapsed if elapsed > 0 else float("nan")
    eta = (settings.max_steps - it) / rate if rate > 0 else float("nan")
    tau_txt = "n/a" if not np.all(np.isfinite(tau)) else f"{np.max(tau):.1f} (N/tau {it / np.max(tau):.0f})"
    log(
        f"emcee step {it}/{settings.max_steps}  tau_max {tau_txt}  "
        f"acceptance {np.mean(sampler.acceptance_fraction):.3f}  {rate:.0f} steps/s  "
        f"elapsed {elapsed:.0f} s  ETA to max_steps {eta:.0f} s"
    )
