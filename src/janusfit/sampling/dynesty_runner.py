"""dynesty nested sampling with checksummed, generational checkpoints.

dynesty's own ``checkpoint_file`` overwrites one pickle in place with no
checksum. Here the static sampler's iterations are driven directly, and every
``checkpoint_seconds`` (and on SIGTERM/SIGINT) the whole sampler is pickled to
a new generation ``state_NNNNNN.pkl`` with a sha256 sidecar; the two newest
generations are kept, so a torn or corrupted newest file falls back to the one
before. A pickle can run arbitrary code when loaded, so only files inside this
run's own checkpoint directory whose checksum matches the sidecar janusfit
wrote are ever loaded.

``dlogz`` and ``maxiter`` do not change the static sampler's draws, so a
rerun with new ones resumes its checkpoint; one already past the new stop is
not cut back but replaced by an earlier generation, or by a run from the seed
(``_resumable_static``), so the result is bit for bit that of a run from
scratch. To the dynamic sampler ``dlogz`` is ``dlogz_init``, which changes its
draws: it is in the fingerprint.

The dynamic sampler is driven by dynesty's ``run_nested``; its periodic saves
go through the same generational store (by overriding ``save``), but a signal
cannot interrupt it cleanly, so after SIGTERM it resumes from its last
periodic checkpoint.

When a run ends, its weights, ln Z and information are recomputed from the
whole run (the dead points and the final live points) with
``dynesty.utils.compute_integrals``, as dynesty's own ``run_nested`` does, and
ln Z's error is simulated from the whole run (``run_errors``). The running
estimate the static loop leaves (``logz_err_running``) is somewhat smaller:
on JLA binned, JANUS, nlive 100, 20 seeds, ln Z's distance from the exact
value had an rms of 1.22 of it, against 1.10 of the simulated error.

Nested sampling covers only the part of the prior inside the model's domain
(``Posterior.prior_transform``); the log of that part's fraction of the prior
is added to ln Z.
"""

from __future__ import annotations

import functools
import math
import os
import re
import tempfile
import time
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path

import h5py
import numpy as np

from ..atomic import atomic_path, no_space_left
from ..errors import CheckpointError, ConfigError, JanusfitError
from ..settings import DynestySettings, minimum_nlive, require_static_for_maxiter
from . import values_digest
from .domain import require_domain_overlap
from .progress import DynestyProgress
from .run_errors import run_errors
from .session import CheckpointSession
from .store import clean_partial, commit, quarantine, refused_to_read, verified

GENERATION = re.compile(r"^state_(\d{6})\.pkl$")
# The checkpoint interval's clock; a test stands it still.
_clock = time.monotonic
KEEP_GENERATIONS = 2


@dataclass
class DynestyResult:
    """One run.

    ``logz`` is over the whole prior: ``logz_inside`` (over the part inside the
    model's domain, which was sampled) plus ``ln_domain_fraction``.
    ``logz_err`` is simulated from the whole run (``run_errors``), and so
    are ``moment_errors``, the errors of each parameter's weighted mean and sd;
    ``logz_err_running`` is the static loop's running estimate, kept for
    comparison, or None where it is
    not a number: dynesty adds each step's change of the information times
    the step in ln X to the variance, which goes negative when the final live
    points change the information much (a run stopped by ``maxiter``). ``complete`` is False
    when ``maxiter`` stopped the run before ``dlogz`` was reached: more of its
    ln Z then rests on the final live points than ``dlogz`` allows;
    ``dlogz_remaining`` is ln(1 + Z_live / Z) where it stopped (static sampler
    only; None for the dynamic one, which stops by its own rule).
    """

    logz: float
    logz_err: float
    logz_err_running: float | None
    logz_inside: float
    ln_domain_fraction: float
    seed: int
    n_calls: int
    n_iter: int
    information: float
    resumes: list
    elapsed_s: float
    complete: bool
    dlogz_remaining: float | None
    moment_errors: dict

    def to_json(self) -> dict:
        return asdict(self)


class GenerationStore:
    """Numbered, checksummed pickles of the sampler in one directory.

    ``guard`` is called before each generation is written, and raises when
    this sampler may no longer write (its checkpoint lease was taken over).
    """

    def __init__(self, directory: Path, log=print, guard=lambda: None):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log = log
        self.guard = guard
        clean_partial(self.dir, "state_*.pkl")

    def _generations(self) -> list[tuple[int, Path]]:
        found = [(int(m.group(1)), p) for p in self.dir.iterdir() if (m := GENERATION.match(p.name))]
        return sorted(found)

    def good(self):
        """The generations whose checksum matches, newest first; the others are quarantined on the way."""
        for _, path in reversed(self._generations()):
            if verified(path):
                yield path
            else:
                quarantine(path, "fails its checksum", self.log)

    def newest_good(self) -> Path | None:
        """The newest generation that checks, saying in the log which one a damaged newer one left."""
        before = len(self._generations())
        newest = next(self.good(), None)
        if len(self._generations()) < before:  # newer ones were quarantined on the way
            self.log(
                f"resuming from the previous generation, '{newest.name}'"
                if newest is not None
                else "no checkpoint generation is left: the run starts afresh from iteration 0"
            )
        return newest

    def restore(self, path: Path):
        """dynesty's sampler from generation ``path``, which passed its checksum.

        Its bytes are those written, so a generation dynesty cannot restore was
        pickled by another dynesty (or another janusfit): it is no damage, and
        is left in place, named.
        """
        from dynesty import NestedSampler

        try:
            return NestedSampler.restore(str(path))
        except OSError as exc:
            raise refused_to_read(exc, path) from None
        except (JanusfitError, MemoryError):
            raise  # a signal's Interrupted, a lost lease: not the generation's doing
        except Exception as exc:  # unpickling raises whatever the pickled classes' code does
            raise CheckpointError(
                f"checkpoint generation '{path}' passed its checksum, but this dynesty ({version('dynesty')}) "
                f"cannot restore it ({type(exc).__name__}: {exc}); it and the checkpoint were left in place. If "
                "another dynesty wrote it, install that one to resume; to start this run afresh, move "
                f"'{self.dir.parent}' aside and rerun Snakemake."
            ) from None

    def save(self, sampler) -> None:
        self.guard()
        gens = self._generations()
        path = self.dir / f"state_{gens[-1][0] + 1 if gens else 0:06d}.pkl"
        # The ".tmp" suffix lets clean_partial remove the file if a kill
        # lands between here and the unlink below.
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=self.dir)
        os.close(fd)
        from dynesty.utils import save_sampler

        try:
            with no_space_left(path):
                save_sampler(sampler, tmp)
            data = Path(tmp).read_bytes()
        finally:
            Path(tmp).unlink(missing_ok=True)
        commit(path, data)
        for _, old in gens[: max(0, len(gens) + 1 - KEEP_GENERATIONS)]:
            old.unlink()
            old.with_name(old.name + ".sha256").unlink(missing_ok=True)


@functools.cache
def _stored_dynamic_sampler() -> type:
    """dynesty's ``DynamicNestedSampler`` whose checkpoints go to a GenerationStore; a run constructs it directly.

    Defined on first use, so that only the jobs that run dynesty import it
    (0.3–1 s), not every job that imports this module.
    """
    from dynesty import DynamicNestedSampler

    class _StoredDynamicSampler(DynamicNestedSampler):
        store: GenerationStore | None = None
        progress: DynestyProgress | None = None
        interval: float = 0.0
        saved_at: float = -math.inf

        def save(self, fname):
            # dynesty times its interval from the start of a save: a save longer
            # than the interval would follow at every iteration. This is timed
            # from the end of the last one.
            if _clock() - self.saved_at < self.interval:
                return
            self.store.save(self)
            self.progress.checkpoint(self)
            self.saved_at = _clock()

        def __getstate__(self):
            state = dict(super().__getstate__())
            for attribute in ("store", "progress", "interval", "saved_at"):
                state.pop(attribute, None)
            return state

    # Checkpoints pickle the class by this name; unpickling finds it through __getattr__ below.
    _StoredDynamicSampler.__qualname__ = "_StoredDynamicSampler"
    return _StoredDynamicSampler


def __getattr__(name: str):
    if name == "_StoredDynamicSampler":
        return _stored_dynamic_sampler()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def run_dynesty(
    posterior, settings: DynestySettings, session: CheckpointSession, log=print, warn=None
) -> tuple[DynestyResult, dict]:
    """Run (or resume) nested sampling; return the result and the weighted samples.

    ``progress.json`` goes beside the checkpoint at every save; a failure to
    write it, and a run stopped by ``maxiter`` before ``dlogz``, go to ``warn``
    (default ``log``), and sampling goes on.
    """
    if settings.method not in ("static", "dynamic"):
        raise ConfigError("dynesty.method", f"must be 'static' or 'dynamic', not {settings.method!r}")
    if settings.nlive < minimum_nlive(posterior.ndim):
        raise ConfigError(
            "dynesty.nlive",
            f"{settings.nlive} live points for {posterior.ndim} parameters; "
            f"dynesty needs at least {minimum_nlive(posterior.ndim)}",
        )
    require_static_for_maxiter(settings)
    require_domain_overlap(posterior)
    import dynesty
    from dynesty.utils import compute_integrals

    store = GenerationStore(session.dir / "generations", log=log, guard=session.verify_lease)
    warn = log if warn is None else warn
    progress = DynestyProgress(session.dir, settings, warn=warn)
    t_start = time.monotonic()
    loglike, prior_transform = posterior.loglike_one, posterior.prior_transform
    if settings.method == "static":
        sampler = _resumable_static(store, settings, session, log)
    else:
        newest = store.newest_good()
        sampler = store.restore(newest) if newest is not None else None
    resuming = sampler is not None
    if resuming:
        session.record_resume(int(sampler.it) if settings.method == "static" else _dynamic_iteration(sampler))
    else:
        session.forget_resumes_from(0)  # none left to resume: every damaged generation was set aside
    if settings.method == "static":
        sampler = sampler or dynesty.NestedSampler(
            loglike,
            prior_transform,
            posterior.ndim,
            nlive=settings.nlive,
            bound=settings.bound,
            sample=settings.sample,
            rstate=np.random.default_rng(settings.seed),
        )
        progress.start(sampler)
        complete, dlogz_remaining = _run_static(sampler, settings, store, session, log, progress, warn)
    else:
        if sampler is None:
            sampler = _stored_dynamic_sampler()(
                loglike,
                prior_transform,
                posterior.ndim,
                bound=settings.bound,
                sample=settings.sample,
                rstate=np.random.default_rng(settings.seed),
            )
        sampler.store, sampler.progress = store, progress
        sampler.interval, sampler.saved_at = settings.checkpoint_seconds, _clock()
        progress.start(sampler)
        sampler.run_nested(
            nlive_init=settings.nlive,
            dlogz_init=settings.dlogz,
            print_progress=False,
            checkpoint_file=str(store.dir / "unused"),
            checkpoint_every=settings.checkpoint_seconds,
            resume=resuming,
        )
        store.save(sampler)
        progress.checkpoint(sampler, final=True)
        complete, dlogz_remaining = True, None
    res = sampler.results
    running_err = float(res.logzerr[-1])
    logwt, logz, _, information = compute_integrals(logl=np.asarray(res.logl), logvol=np.asarray(res.logvol))
    logz_err, moment_errors = run_errors(res, seed=settings.seed)
    result = DynestyResult(
        logz=float(logz[-1] + posterior.log_domain_fraction),
        logz_err=logz_err,
        logz_err_running=running_err if math.isfinite(running_err) else None,
        logz_inside=float(logz[-1]),
        ln_domain_fraction=posterior.log_domain_fraction,
        seed=settings.seed,
        n_calls=int(np.sum(res.ncall)),
        n_iter=int(res.niter),
        information=float(information[-1]),
        resumes=session.resumes,
        elapsed_s=time.monotonic() - t_start,
        complete=complete,
        dlogz_remaining=dlogz_remaining,
        moment_errors={p: moment_errors[i] for i, p in enumerate(posterior.param_names)},
    )
    weights = np.exp(logwt - logz[-1])
    samples = {
        "samples": np.asarray(res.samples),
        "logl": np.asarray(res.logl),
        "logwt": logwt,
        "weights": weights / weights.sum(),
    }
    return result, samples


def _dynamic_iteration(sampler) -> int:
    return int(getattr(sampler, "it", 0))


def _resumable_static(store: GenerationStore, settings: DynestySettings, session, log):
    """The static sampler to resume: the newest generation, unless it went past where ``settings`` stop a run.

    ``dlogz`` and ``maxiter`` do not change the draws, so a checkpoint resumes
    under new ones. One past the new stop (a smaller ``maxiter``, a looser
    ``dlogz``) cannot be cut back: its random state and bounds are those of
    its last iteration. The generation with the most iterations not past the
    stop is resumed instead, or, when there is none (two are kept), the run
    restarts from the seed (returns None). A run resumed from a saved state
    is bit for bit an uninterrupted one, so either way the result is that of
    a run from scratch with the new settings, and so are its recorded
    resumes.
    """
    newest = store.newest_good()
    if newest is None:
        return None
    sampler = store.restore(newest)
    stop = _stop_before(sampler, settings)
    if stop is None:
        return sampler
    at, why = stop
    earlier = [s for s in (store.restore(p) for p in store.good() if p != newest) if s.it - 1 <= at]
    resumed = max(earlier, key=lambda s: s.it, default=None)
    log(
        f"dynesty checkpoint at {sampler.it - 1} iterations is past the new stop ({why}): restarted from "
        + (f"its earlier generation at {resumed.it - 1} iterations" if resumed is not None else "the seed")
    )
    # The resumes the run recorded since that state are not in the result's history any more.
    session.forget_resumes_from(int(resumed.it) if resumed is not None else 0)
    return resumed


def _stop_before(sampler, settings: DynestySettings) -> tuple[int, str] | None:
    """Where a run with ``settings`` stops, (iterations, why), if before the iterations ``sampler`` has made; else None.

    dynesty decides at the top of each iteration, from the state then, and
    the state after k iterations can be read back from the run: ln Z and ln X
    are the k-th dead point's, and the live points' best likelihood is the
    best of those born by iteration k (a point's ``it``), since the worst
    point dies each time. ln(1 + Z_live / Z) is computed as dynesty's
    ``sample`` computes it, so it decides as that did, bit for bit.
    dynesty's one other rule in play here, all live points at one
    likelihood, depends on no setting: the run would have stopped there
    already.
    """
    run = sampler.saved_run
    made = sampler.it - 1
    born = np.concatenate([np.asarray(run["it"], dtype=int), sampler.live_it])
    best_born = np.full(made + 1, -np.inf)
    np.maximum.at(best_born, born, np.concatenate([np.asarray(run["logl"]), sampler.live_logl]))
    # Before the first iteration dynesty's sample() starts from the whole prior and ln Z = -1e300.
    logvol = np.concatenate([[sampler.logvol_init], np.asarray(run["logvol"])])
    logz = np.concatenate([[-1.0e300], np.asarray(run["logz"])])
    remaining = np.logaddexp(0, np.maximum.accumulate(best_born) + logvol - logz)
    reached = np.flatnonzero(remaining < settings.dlogz)
    stops = []
    if reached.size:
        stops.append((int(reached[0]), f"dlogz {settings.dlogz}, reached after {int(reached[0])} iterations"))
    if settings.maxiter is not None:
        stops.append((settings.maxiter, f"maxiter {settings.maxiter}"))
    before = [stop for stop in stops if stop[0] < made]
    return min(before) if before else None


def _run_static(sampler, settings, store, session, log, progress, warn) -> tuple[bool, float]:
    """Drive the static sampler's iterations with timed checkpoints; return (complete, dlogz remaining).

    ``settings.maxiter`` counts the iterations of the whole run, over resumes
    (``sampler.it - 1`` dead points so far), so that a run cut by a kill and
    resumed stops where an uninterrupted one stops.
    """
    resuming = sampler.it > 1
    last_save = last_log = _clock()
    # Stays None when the checkpoint resumed from was taken after the last
    # iteration: the loop then stops at once, and "dlogz inf" would misreport it.
    delta_logz = None
    for result in sampler.sample(
        dlogz=settings.dlogz, maxiter=_session_maxiter(sampler, settings.maxiter), add_live=False, resume=resuming
    ):
        delta_logz = result.delta_logz
        now = _clock()
        if session.stop_requested:
            store.save(sampler)
            progress.checkpoint(sampler, delta_logz, result.logz)
            raise session.stopped(int(sampler.it))
        if now - last_save >= settings.checkpoint_seconds:
            store.save(sampler)
            progress.checkpoint(sampler, delta_logz, result.logz)
            # From the end of the save: one longer than the interval would
            # otherwise follow at every iteration.
            last_save = _clock()
        if now - last_log >= 10:
            log(
                f"dynesty iteration {sampler.it}  calls {sampler.ncall}  logz {result.logz:.3f}  "
                f"dlogz {delta_logz:.3f} (target {settings.dlogz})  efficiency {result.eff:.1f}%"
            )
            last_log = now
    remaining = _remaining_dlogz(sampler)
    complete = remaining < settings.dlogz or settings.maxiter is None or sampler.it - 1 < settings.maxiter
    if complete:
        reached = f"dlogz {delta_logz:.3g}" if delta_logz is not None else "its checkpoint had already met dlogz"
        log(f"dynesty finished: {sampler.it - 1} iterations, {reached}")
    else:
        warn(
            f"dynesty INCOMPLETE: stopped at iteration {sampler.it - 1} by dynesty.maxiter = {settings.maxiter} with dlogz "
            f"{remaining:.3g} left (target {settings.dlogz}); its ln Z is not a finished evidence"
        )
    store.save(sampler)
    progress.checkpoint(sampler, delta_logz, final=True)
    sampler.add_final_live(print_progress=False)
    return complete, remaining


def _session_maxiter(sampler, maxiter: int | None) -> int | None:
    """dynesty's ``maxiter`` for this session of a run limited to ``maxiter`` iterations in all.

    ``sampler.sample`` yields iterations 0, 1, ... and stops only once its
    counter exceeds ``maxiter``: ``maxiter=m`` runs m + 1 iterations (dynesty
    3.1, sampler.py), so m - 1 runs m, and -1 none.
    """
    if maxiter is None:
        return None
    return maxiter - (sampler.it - 1) - 1


def _remaining_dlogz(sampler) -> float:
    """ln(1 + Z_live / Z) at the sampler's last dead point: dynesty's own stopping statistic."""
    run = sampler.saved_run
    return float(np.logaddexp(0, np.max(sampler.live_logl) + run["logvol"][-1] - run["logz"][-1]))


def write_samples(path, samples: dict, param_names, result: DynestyResult) -> None:
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            for key, value in samples.items():
                f.create_dataset(key, data=value)
            f.attrs["param_names"] = list(param_names)
            f.attrs["logz"] = result.logz
            f.attrs["logz_err"] = result.logz_err
            values_digest.record(f)
