"""dynesty nested sampling with checksummed, generational checkpoints.

dynesty's own ``checkpoint_file`` overwrites one pickle in place with no
checksum. Here the static sampler's iterations are driven directly, and every
``checkpoint_seconds`` (and on SIGTERM/SIGINT) the whole sampler is pickled to
a new generation ``state_NNNNNN.pkl`` with a sha256 sidecar; the two newest
generations are kept, so a torn or corrupted newest file falls back to the one
before. A pickle can run arbitrary code when loaded, so only files inside this
run's own checkpoint directory whose checksum matches the sidecar janusfit
wrote are ever loaded.

The dynamic sampler is driven by dynesty's ``run_nested``; its periodic saves
go through the same generational store (by overriding ``save``), but a signal
cannot interrupt it cleanly, so after SIGTERM it resumes from its last
periodic checkpoint.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import dynesty
import h5py
import numpy as np
from dynesty.dynamicsampler import DynamicSampler
from dynesty.utils import save_sampler

from ..atomic import atomic_path, no_space_left
from ..errors import ConfigError
from .domain import require_domain_overlap
from .session import CheckpointSession
from .store import clean_partial, commit, quarantine, verified

GENERATION = re.compile(r"^state_(\d{6})\.pkl$")
KEEP_GENERATIONS = 2


@dataclass(frozen=True)
class DynestySettings:
    nlive: int = 500
    dlogz: float = 0.1
    method: str = "static"
    bound: str = "multi"
    sample: str = "auto"
    seed: int = 42
    checkpoint_seconds: float = 60.0
    maxiter: int | None = None

    def chain_settings(self) -> dict:
        """Settings that change the draws (``dlogz`` only decides where to stop)."""
        return {"nlive": self.nlive, "method": self.method, "bound": self.bound,
                "sample": self.sample, "seed": self.seed}


@dataclass
class DynestyResult:
    logz: float
    logz_err: float
    n_calls: int
    n_iter: int
    information: float
    resumes: list
    elapsed_s: float

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

    def newest_good(self) -> Path | None:
        for _, path in reversed(self._generations()):
            if verified(path):
                return path
            quarantine(path, "fails its checksum", self.log)
        return None

    def save(self, sampler) -> None:
        self.guard()
        gens = self._generations()
        path = self.dir / f"state_{gens[-1][0] + 1 if gens else 0:06d}.pkl"
        # The ".tmp" suffix lets clean_partial remove the file if a kill
        # lands between here and the unlink below.
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=self.dir)
        os.close(fd)
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


class _StoredDynamicSampler(DynamicSampler):
    """dynesty's dynamic sampler whose checkpoints go to a GenerationStore."""

    store: GenerationStore | None = None

    def save(self, fname):
        self.store.save(self)

    def __getstate__(self):
        state = super().__getstate__() if hasattr(super(), "__getstate__") else self.__dict__.copy()
        state = dict(state)
        state.pop("store", None)
        return state


def run_dynesty(posterior, settings: DynestySettings, session: CheckpointSession,
                log=print) -> tuple[DynestyResult, dict]:
    """Run (or resume) nested sampling; return the result and the weighted samples."""
    if settings.method not in ("static", "dynamic"):
        raise ConfigError("dynesty.method", f"must be 'static' or 'dynamic', not {settings.method!r}")
    require_domain_overlap(posterior)
    store = GenerationStore(session.dir / "generations", log=log, guard=session.verify_lease)
    t_start = time.monotonic()
    newest = store.newest_good()
    loglike, prior_transform = posterior.loglike_one, posterior.prior_transform
    sampler = None
    if newest is not None:
        sampler = dynesty.NestedSampler.restore(str(newest))
        session.record_resume(int(sampler.it) if settings.method == "static" else _dynamic_iteration(sampler))
    if settings.method == "static":
        sampler = sampler or dynesty.NestedSampler(
            loglike, prior_transform, posterior.ndim,
            nlive=settings.nlive, bound=settings.bound, sample=settings.sample,
            rstate=np.random.default_rng(settings.seed))
        _run_static(sampler, settings, store, session, log)
    else:
        if sampler is None:
            sampler = dynesty.DynamicNestedSampler(
                loglike, prior_transform, posterior.ndim,
                bound=settings.bound, sample=settings.sample,
                rstate=np.random.default_rng(settings.seed))
            sampler.__class__ = _StoredDynamicSampler
        sampler.store = store
        sampler.run_nested(nlive_init=settings.nlive, dlogz_init=settings.dlogz, print_progress=False,
                           checkpoint_file=str(store.dir / "unused"), checkpoint_every=settings.checkpoint_seconds,
                           resume=newest is not None, maxiter=settings.maxiter)
        store.save(sampler)
    res = sampler.results
    result = DynestyResult(
        logz=float(res.logz[-1]), logz_err=float(res.logzerr[-1]), n_calls=int(np.sum(res.ncall)),
        n_iter=int(res.niter), information=float(res.information[-1]),
        resumes=session.resumes, elapsed_s=time.monotonic() - t_start)
    weights = np.exp(res.logwt - res.logz[-1])
    samples = {"samples": np.asarray(res.samples), "logl": np.asarray(res.logl),
               "logwt": np.asarray(res.logwt), "weights": weights / weights.sum()}
    return result, samples


def _dynamic_iteration(sampler) -> int:
    return int(getattr(sampler, "it", 0))


def _run_static(sampler, settings, store, session, log) -> None:
    """Drive the static sampler's iterations with timed checkpoints."""
    resuming = sampler.it > 1
    last_save = last_log = time.monotonic()
    # Stays None when the checkpoint resumed from was taken after the last
    # iteration: the loop then stops at once, and "dlogz inf" would misreport it.
    delta_logz = None
    for result in sampler.sample(dlogz=settings.dlogz, maxiter=settings.maxiter or (1 << 62),
                                 add_live=False, resume=resuming):
        delta_logz = result.delta_logz
        now = time.monotonic()
        if session.stop_requested:
            store.save(sampler)
            raise session.stopped(int(sampler.it))
        if now - last_save >= settings.checkpoint_seconds:
            store.save(sampler)
            last_save = now
        if now - last_log >= 10:
            log(f"dynesty iteration {sampler.it}  calls {sampler.ncall}  logz {result.logz:.3f}  "
                f"dlogz {delta_logz:.3f} (target {settings.dlogz})  efficiency {result.eff:.1f}%")
            last_log = now
    reached = f"dlogz {delta_logz:.3g}" if delta_logz is not None else "its checkpoint had already met dlogz"
    log(f"dynesty finished: iteration {sampler.it}, {reached}")
    store.save(sampler)
    sampler.add_final_live(print_progress=False)


def write_samples(path, samples: dict, param_names, result: DynestyResult) -> None:
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            for key, value in samples.items():
                f.create_dataset(key, data=value)
            f.attrs["param_names"] = list(param_names)
            f.attrs["logz"] = result.logz
            f.attrs["logz_err"] = result.logz_err
