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
``check_every`` steps on a bounded thinned copy of the chain, so its decisions
do not depend on when a run was interrupted either.
"""

from __future__ import annotations

import io
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import emcee
import h5py
import numpy as np

from ..atomic import atomic_path
from ..errors import CheckpointError, ConfigError
from .domain import require_domain_overlap
from .session import CheckpointSession
from .store import clean_partial, commit, quarantine, verified
from .thinned import ThinnedChain

SEGMENT = re.compile(r"^seg_(\d{10})_(\d{10})\.npz$")
CHUNK_BYTES = 256 << 10  # of the final HDF5 file's datasets


@dataclass(frozen=True)
class EmceeSettings:
    n_walkers: int
    max_steps: int
    seed: int = 42
    moves: str = "de"
    checkpoint_steps: int = 1000
    checkpoint_seconds: float = 300.0
    check_every: int = 500
    n_over_tau: float = 50.0
    tau_rel_change: float = 0.01
    stop_on_convergence: bool = True
    thin_max_rows: int = 20000

    def chain_settings(self) -> dict:
        """The settings that change the draws, for the fingerprint.

        ``max_steps``, the checkpoint interval and the stopping rule only decide
        where the chain is cut or saved, so a run may be extended or saved more
        often without invalidating its checkpoint.
        """
        return {"n_walkers": self.n_walkers, "seed": self.seed, "moves": self.moves}


@dataclass
class EmceeResult:
    n_steps: int
    converged: bool
    stop_reason: str
    tau: list
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


def _segment_name(start: int, end: int) -> str:
    return f"seg_{start:010d}_{end:010d}.npz"


def _encode_segment(chain, log_prob, accepted, random_state, last_tau, tau_history, stop_reason) -> bytes:
    name, keys, pos, has_gauss, cached = random_state
    buf = io.BytesIO()
    np.savez(
        buf, chain=chain, log_prob=log_prob, accepted=accepted,
        rs_name=np.array(name), rs_keys=keys, rs_pos=np.array(pos),
        rs_has_gauss=np.array(has_gauss), rs_cached=np.array(cached),
        last_tau=np.asarray(last_tau, dtype=float),
        tau_history=np.asarray(tau_history, dtype=float).reshape(-1, 2),
        stop_reason=np.array(stop_reason),
    )
    return buf.getvalue()


def _decode_state(npz) -> dict:
    return {
        "coords": npz["chain"][-1],
        "log_prob": npz["log_prob"][-1],
        "random_state": (str(npz["rs_name"]), npz["rs_keys"], int(npz["rs_pos"]),
                         int(npz["rs_has_gauss"]), float(npz["rs_cached"])),
        "last_tau": npz["last_tau"],
        "tau_history": [tuple(r) for r in npz["tau_history"]],
        "stop_reason": str(npz["stop_reason"]),
    }


class SegmentChain:
    """The committed segments of one chain, in order.

    ``guard`` is called before each segment is written, and raises when this
    sampler may no longer write (its checkpoint lease was taken over).
    """

    def __init__(self, directory: Path, log=print, guard=lambda: None):
        self.dir = Path(directory)
        self.log = log
        self.guard = guard
        self.dir.mkdir(parents=True, exist_ok=True)
        clean_partial(self.dir, "seg_*.npz")
        self.paths = self._load()

    def _load(self) -> list[Path]:
        """Good segments from iteration 0 on; a bad one ends the chain there."""
        found = {}
        for path in self.dir.glob("seg_*.npz"):
            m = SEGMENT.match(path.name)
            if m:
                found.setdefault(int(m.group(1)), []).append((int(m.group(2)), path))
        good, it = [], 0
        while it in found:
            end, path = max(found.pop(it))
            if not verified(path) or not self._readable(path):
                quarantine(path, "fails its checksum or cannot be read", self.log)
                break
            good.append(path)
            it = end
        for rest in found.values():
            for _, path in rest:
                if path not in good:
                    quarantine(path, "comes after a missing or bad segment", self.log)
        return good

    @staticmethod
    def _readable(path: Path) -> bool:
        try:
            with np.load(path) as npz:
                return npz["chain"].ndim == 3 and len(npz["chain"]) > 0
        except (OSError, ValueError, KeyError, EOFError):
            return False

    @property
    def iteration(self) -> int:
        return int(SEGMENT.match(self.paths[-1].name).group(2)) if self.paths else 0

    def last_state(self) -> dict | None:
        if not self.paths:
            return None
        with np.load(self.paths[-1]) as npz:
            return _decode_state(npz)

    def iter_arrays(self):
        """(chain, log_prob, accepted) of each segment, one at a time."""
        for path in self.paths:
            with np.load(path) as npz:
                yield npz["chain"], npz["log_prob"], npz["accepted"]

    def append(self, start: int, data: bytes, end: int) -> None:
        path = self.dir / _segment_name(start, end)
        self.guard()
        commit(path, data)
        self.paths.append(path)


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
        "barely overlaps the region where the model exists"
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
    sampler = emcee.EnsembleSampler(settings.n_walkers, posterior.ndim, posterior, vectorize=True,
                                    moves=MOVES[settings.moves]())
    state = sampler.run_mcmc(ball, 5, store=False)
    steps, start = 0, time.perf_counter()
    for _ in sampler.sample(state, iterations=1 << 62, store=False):
        steps += 1
        if steps >= min_steps and time.perf_counter() - start >= min_s:
            break
    return (time.perf_counter() - start) / steps


def write_emcee_hdf5(segments: SegmentChain, path, n_walkers: int, ndim: int, random_state) -> None:
    """Assemble the final chain in emcee's HDF5 layout, one segment at a time.

    The file is readable by ``emcee.backends.HDFBackend(path, read_only=True)``.
    """
    n = segments.iteration
    # Row-aligned chunks of ~256 KiB, in a cache holding several: each segment
    # then fills whole chunks and finishes the one the last segment began.
    # h5py's automatic chunks for a long chain split the walkers and
    # parameters ((15625, 1, 1) at 1e6 steps), so every segment rewrote part
    # of hundreds of chunks: slow, and its memory grew with the chain.
    rows = max(1, min(n, CHUNK_BYTES // (n_walkers * ndim * 8)))
    lp_rows = max(1, min(n, CHUNK_BYTES // (n_walkers * 8)))
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w", rdcc_nbytes=16 * CHUNK_BYTES) as f:
            g = f.create_group("mcmc")
            g.attrs["version"] = emcee.__version__
            g.attrs["nwalkers"] = n_walkers
            g.attrs["ndim"] = ndim
            g.attrs["has_blobs"] = False
            g.attrs["iteration"] = n
            chain = g.create_dataset("chain", (n, n_walkers, ndim), maxshape=(None, n_walkers, ndim), dtype="f8",
                                     chunks=(rows, n_walkers, ndim))
            log_prob = g.create_dataset("log_prob", (n, n_walkers), maxshape=(None, n_walkers), dtype="f8",
                                        chunks=(lp_rows, n_walkers))
            accepted = np.zeros(n_walkers)
            at = 0
            for c, lp, acc in segments.iter_arrays():
                chain[at: at + len(c)] = c
                log_prob[at: at + len(c)] = lp
                accepted += acc
                at += len(c)
            g.create_dataset("accepted", data=accepted)
            for i, v in enumerate(random_state):
                g.attrs[f"random_state_{i}"] = v


def run_emcee(posterior, settings: EmceeSettings, session: CheckpointSession, chain_path, log=print) -> EmceeResult:
    """Sample to ``settings.max_steps`` or convergence, resuming from the checkpoint in ``session``."""
    ndim, nw = posterior.ndim, settings.n_walkers
    if nw < 2 * ndim:
        raise ConfigError("emcee.n_walkers", f"{nw} walkers for {ndim} parameters; emcee needs at least {2 * ndim}")
    if nw % 2:
        raise ConfigError("emcee.n_walkers", f"must be even (the stretch move splits walkers in two halves), got {nw}")
    if settings.moves not in MOVES:
        raise ConfigError("emcee.moves", f"unknown move '{settings.moves}'; choose one of {', '.join(MOVES)}")
    require_domain_overlap(posterior)
    segments = SegmentChain(session.dir / "segments", log=log, guard=session.verify_lease)
    sampler = emcee.EnsembleSampler(nw, ndim, posterior, vectorize=True, moves=MOVES[settings.moves]())
    thinned = ThinnedChain(settings.thin_max_rows)
    state = segments.last_state()
    if state is None:
        rng = np.random.default_rng(settings.seed)
        coords = initial_positions(posterior, nw, rng)
        sampler.random_state = np.random.RandomState(settings.seed).get_state()
        current = emcee.State(coords, log_prob=posterior(coords))
        last_tau, tau_history, stop_reason = np.full(ndim, np.nan), [], ""
    else:
        if state["coords"].shape != (nw, ndim):
            raise CheckpointError(f"checkpoint '{segments.dir}' holds {state['coords'].shape} walkers×parameters, expected {(nw, ndim)}")
        session.record_resume(segments.iteration)
        for c, _, _ in segments.iter_arrays():
            thinned.append(c)
        sampler.random_state = state["random_state"]
        current = emcee.State(state["coords"], log_prob=state["log_prob"], random_state=state["random_state"])
        last_tau, tau_history, stop_reason = state["last_tau"], state["tau_history"], state["stop_reason"]

    it = segments.iteration
    t_start = time.monotonic()
    it_start = it
    while not stop_reason and it < settings.max_steps:
        target = min(settings.max_steps,
                     (it // settings.checkpoint_steps + 1) * settings.checkpoint_steps,
                     (it // settings.check_every + 1) * settings.check_every)
        seg_start, t_seg = it, time.monotonic()
        sampler.reset()
        for current in sampler.sample(current, iterations=target - it, store=True,
                                      skip_initial_state_check=it > 0):
            if session.stop_requested or time.monotonic() - t_seg >= settings.checkpoint_seconds:
                break
        it = seg_start + sampler.iteration
        chain = sampler.get_chain()
        thinned.append(chain)
        if it % settings.check_every == 0:
            tau = thinned.tau()
            tau_history.append((it, float(np.max(tau))))
            converged = (it > settings.n_over_tau * np.max(tau)
                         and np.all(np.abs(tau - last_tau) / tau < settings.tau_rel_change))
            last_tau = tau
            if converged and settings.stop_on_convergence:
                stop_reason = "converged"
        segments.append(seg_start, _encode_segment(
            chain, sampler.get_log_prob(), sampler.backend.accepted, sampler.random_state,
            last_tau, tau_history, stop_reason), it)
        _log_progress(log, it, settings, sampler, last_tau, t_start, it_start)
        if session.stop_requested:
            raise session.stopped(it)

    stop_reason = stop_reason or "max_steps"
    acceptance = _acceptance(segments, it)
    write_emcee_hdf5(segments, chain_path, nw, ndim, sampler.random_state)
    converged = stop_reason == "converged" or bool(
        np.all(np.isfinite(last_tau)) and it > settings.n_over_tau * np.max(last_tau))
    return EmceeResult(
        n_steps=it, converged=converged, stop_reason=stop_reason,
        tau=[float(t) for t in last_tau], tau_history=[list(map(float, r)) for r in tau_history],
        resumes=session.resumes, acceptance=acceptance.tolist(),
        elapsed_s=time.monotonic() - t_start,
    )


def _acceptance(segments: SegmentChain, n_steps: int) -> np.ndarray:
    total = sum(acc for _, _, acc in segments.iter_arrays())
    return np.asarray(total, dtype=float) / max(n_steps, 1)


def _log_progress(log, it, settings, sampler, tau, t_start, it_start) -> None:
    elapsed = time.monotonic() - t_start
    rate = (it - it_start) / elapsed if elapsed > 0 else float("nan")
    eta = (settings.max_steps - it) / rate if rate > 0 else float("nan")
    tau_txt = "n/a" if not np.all(np.isfinite(tau)) else f"{np.max(tau):.1f} (N/tau {it / np.max(tau):.0f})"
    log(f"emcee step {it}/{settings.max_steps}  tau_max {tau_txt}  "
        f"acceptance {np.mean(sampler.acceptance_fraction):.3f}  {rate:.0f} steps/s  "
        f"elapsed {elapsed:.0f} s  ETA to max_steps {eta:.0f} s")
