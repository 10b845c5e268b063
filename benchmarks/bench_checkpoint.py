"""Checkpoint overhead: emcee steps/s with janusfit's checkpointing, in memory, and with emcee's HDFBackend.

The same sampler (32 walkers, emcee's DEMove, janusfit's default move) runs the
same number of steps three ways, alternating, in fresh temporary directories:

- janusfit checkpointing: ``run_emcee`` inside a ``CheckpointSession`` with
  the default checkpoint interval (1000 steps or 300 s), the stopping rule
  checked only once, at the end (``check_every`` = the run's length). Includes
  the prior-overlap check, drawing the initial positions and assembling the
  final emcee-layout HDF5 file;
- janusfit defaults: the same with the stopping rule evaluated at its default
  interval (τ every 500 steps, each also cutting a segment) but not allowed to
  stop, so that every variant runs the same steps;
- janusfit, figure at every checkpoint: the defaults, with the live progress
  figure drawn at every checkpoint instead of once a minute (its worst case;
  a run shorter than a minute, as here by default, never draws it): the
  difference, per drawing, is what a drawing costs, and a drawing a minute
  costs that over 60 s;
- in memory: ``emcee.EnsembleSampler(vectorize=True).run_mcmc``, nothing saved;
- HDFBackend: the same with emcee's own ``HDFBackend`` (every step written);
  it is 10–20× slower, so it runs a fifth of the steps (its rate barely
  depends on the length).

Two posteriors: a 5-parameter vectorised Gaussian (the sampler's own cost
dominates) and flat ΛCDM on Union3 (one parameter).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import emcee
import numpy as np
from common import load


class Gaussian:
    """The cheapest posterior run_emcee accepts: N(0, 1) in ``ndim`` dimensions, evaluated by batch.

    It carries what run_emcee and the checkpoint fingerprint read from a
    Posterior: parameter names and labels, bounds, datasets, z_max and a model
    with a name, parameters and a domain (everywhere).
    """

    def __init__(self, ndim: int = 5):
        self.param_names = tuple(f"x{i}" for i in range(ndim))
        self.labels = {name: f"$x_{i}$" for i, name in enumerate(self.param_names)}
        self.bounds = np.tile([-10.0, 10.0], (ndim, 1))
        self.model = SimpleNamespace(
            name="gaussian", params=self.param_names, in_domain=lambda theta, z_max: np.ones(len(theta), dtype=bool)
        )
        self.datasets = []
        self.z_max = 0.0

    @property
    def ndim(self) -> int:
        return len(self.param_names)

    def __call__(self, theta):
        theta = np.atleast_2d(theta)
        return -0.5 * np.einsum("ij,ij->i", theta, theta)


def run_janusfit(
    post, n_steps: int, workdir: Path, n_walkers: int = 32, check_every: int = 500, figure_seconds: float = 60.0
) -> float:
    """Wall seconds of a checkpointed run_emcee of ``n_steps`` (stopping rule evaluated, never obeyed)."""
    from janusfit.sampling.emcee_runner import EmceeSettings, run_emcee
    from janusfit.sampling.fingerprint import make_fingerprint
    from janusfit.sampling.session import CheckpointSession

    settings = EmceeSettings(
        n_walkers=n_walkers,
        max_steps=n_steps,
        stop_on_convergence=False,
        check_every=check_every,
        progress_figure_seconds=figure_seconds,
    )
    fingerprint = make_fingerprint(post, "emcee", settings.chain_settings())
    t0 = time.perf_counter()
    with CheckpointSession(workdir / "checkpoint", fingerprint, log=_quiet) as session:
        run_emcee(post, settings, session, workdir / "chain.h5", log=_quiet)
    return time.perf_counter() - t0


def _start(post, n_walkers: int) -> np.ndarray:
    from janusfit.sampling.emcee_runner import initial_positions

    return initial_positions(post, n_walkers, np.random.default_rng(42))


def run_plain(post, n_steps: int, workdir: Path, hdf: bool, n_walkers: int = 32) -> float:
    backend = None
    if hdf:
        backend = emcee.backends.HDFBackend(str(workdir / "emcee.h5"))
        backend.reset(n_walkers, post.ndim)
    t0 = time.perf_counter()
    sampler = emcee.EnsembleSampler(
        n_walkers, post.ndim, post, vectorize=True, moves=emcee.moves.DEMove(), backend=backend
    )
    sampler.random_state = np.random.RandomState(42).get_state()
    sampler.run_mcmc(_start(post, n_walkers), n_steps, progress=False)
    return time.perf_counter() - t0


def _quiet(*_args, **_kwargs):
    pass


def run(quick: bool, log=print) -> dict:
    from janusfit.likelihood import Posterior
    from janusfit.models import get_model

    # Full runs are long enough (~5 s each) that a shared machine's slow spells average out.
    n_steps, reps = (1500, 3) if quick else (10_000, 5)
    posteriors = {"gaussian_5d": Gaussian()}
    if not quick:
        posteriors["union3_lcdm"] = Posterior(get_model("lcdm"), [load("union3")])
    rows = []
    for name, post in posteriors.items():
        variants = {  # each: (steps, run in a fresh directory)
            "janusfit_checkpointing": (n_steps, lambda d: run_janusfit(post, n_steps, d, check_every=n_steps)),
            "janusfit_defaults": (n_steps, lambda d: run_janusfit(post, n_steps, d)),
            "janusfit_figure_each_checkpoint": (n_steps, lambda d: run_janusfit(post, n_steps, d, figure_seconds=0.0)),
            "in_memory": (n_steps, lambda d: run_plain(post, n_steps, d, hdf=False)),
            "hdf_backend": (n_steps // 5, lambda d: run_plain(post, n_steps // 5, d, hdf=True)),
        }
        names = list(variants)
        samples = {k: [] for k in names}
        for rep in range(reps):
            for key in names[rep % len(names) :] + names[: rep % len(names)]:
                steps, fn = variants[key]
                with tempfile.TemporaryDirectory(prefix="janusfit-bench-") as tmp:
                    samples[key].append(steps / fn(Path(tmp)))
        rate = {k: float(np.median(v)) for k, v in samples.items()}
        ratio = {k: rate[k] / rate["in_memory"] for k in names}
        row = {"posterior": name, "n_steps": n_steps, "reps": reps, "steps_per_s": rate, "vs_in_memory": ratio}
        # Drawings: one per segment (the τ checks cut one every 500 steps) and one at the end.
        drawings = -(-n_steps // 500) + 1
        seconds = {k: n_steps / rate[k] for k in ("janusfit_figure_each_checkpoint", "janusfit_defaults")}
        per_drawing = (seconds["janusfit_figure_each_checkpoint"] - seconds["janusfit_defaults"]) / drawings
        row["figure_s_per_drawing"] = per_drawing
        row["figure_overhead_at_60s"] = per_drawing / 60.0
        if name == "gaussian_5d":
            row["status"] = {
                k: "ok" if ratio[k] >= 0.9 else "MISSED <0.9x in-memory"
                for k in ("janusfit_checkpointing", "janusfit_defaults")
            }
        rows.append(row)
        log(
            f"  {name:12s} steps/s: "
            + "  ".join(f"{k} {rate[k]:.0f} ({ratio[k]:.2f}x)" for k in names)
            + (f"  {row['status']}" if "status" in row else "")
            + f"  progress figure: {per_drawing:.3f} s per drawing, {100 * row['figure_overhead_at_60s']:.2f} % "
            "of a run at one drawing a minute"
        )
    return {"rows": rows}
