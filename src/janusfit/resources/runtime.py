"""How long a sampling job will run, for Snakemake's ``runtime`` resource.

The pre-flight job times the likelihood (``time_likelihood``), turns that into
minutes for the sampler and settings it runs with, and records the result in
a JSON file. The workflow reads it back through ``runtime_for_attempt`` when it
schedules the sampling job (and again on a retry, or a rerun after a kill), so
SLURM is asked for what this data and machine need rather than a guess, and a
retry gets proportionally more.

An estimate is a fixed part plus the sampling. The fixed part is what a job
spends before its first step and after its last (interpreter, imports, data,
the likelihood's compilation, the final files); it is measured, not assumed:
the pre-flight job's own age when it times the likelihood (``process_age_s``),
as it has gone through the same start. The sampling part is measured too for
emcee (real steps of the run's ensemble, timed), and for dynesty the number
of likelihood calls times their timed cost plus the sampler's own work per
iteration, calibrated on real runs (``benchmarks/bench_runtime.py``). An emcee
estimate is for ``max_steps``: the stopping rule usually ends a run sooner, so
it bounds the run rather than predicts it.
"""

from __future__ import annotations

import json
import math
import os
import time

import numpy as np
import psutil

from ..atomic import atomic_write_json
from ..settings import dynesty_auto_sample
from .memory import dynesty_iterations

RUNTIME_KEY = "runtime_minutes"

# A run's sampling loop over the same number of bare steps (``time_steps``):
# the stopping rule's τ estimates, the chain kept for them, and the
# checkpoints (measured when τ came from up to 20000 thinned rows; the exact
# lag-window τ costs 1.4–1.8 µs per walker-step at 5 parameters, inside it). Measured 1.24–1.6 under moderate load, and
# 0.6–1.8 when the load changed between the timing and the run
# (benchmarks/bench_runtime.py).
EMCEE_BOOKKEEPING = 1.6
# Seconds per dynesty iteration beyond the likelihood: proposals, bound
# updates and pickled checkpoints. Measured 1.4–4.1 ms on the same VM, and
# 1.5–4.8 ms in real sampling jobs (benchmarks/bench_runtime.py, three runs).
DYNESTY_ITERATION_S = 5e-3
# Information H (nats) a dynesty run is timed for, per parameter: the top of
# what janusfit's fits measured, 0.8–2.7 nats with one parameter, and 7.1–9.1
# with three (JLA's light curves, Ωm with α and β; 1480 synthetic light
# curves). One budget for every run timed those of three parameters for 1.7–1.9
# × fewer iterations than they took.
RUNTIME_INFORMATION_PER_PARAM = 3.0
# Likelihood calls per dynesty iteration (dynesty 3.1, Gaussians in 2 and 5
# dimensions): uniform sampling in the bounds needs the inverse efficiency,
# measured 4.0–7.2; a random walk a little under its ``walks`` steps
# (0.77–0.87 × walks); a slice sampler 3.7–4.4 calls per one-dimensional
# slice (stepping out at both ends, then shrinking).
UNIF_CALLS_PER_ITERATION = 8.0
CALLS_PER_SLICE = 4.5


def time_likelihood(posterior, batch_size: int, repeats: int = 7, seed: int = 0) -> float:
    """Median wall time (s) per evaluation of vectorised calls on ``batch_size`` prior draws where the model exists.

    One warm-up call on all the draws first takes numba's compilation, caches
    and lazy imports out of the timing, and finds where the posterior is
    finite: outside the model's domain (JANUS where 1 + 2 q0 z ≤ 0) it returns
    at once, which would make it look cheaper than where a sampler spends its
    time. Each timed call takes other points, so no branch of the model is
    favoured.
    """
    rng = np.random.default_rng(seed)
    lo, hi = posterior.bounds[:, 0], posterior.bounds[:, 1]
    pool = lo + rng.random((batch_size * (repeats + 1), len(lo))) * (hi - lo)
    finite = pool[np.isfinite(posterior(pool))]
    # Cycled if the model exists on few of them; all of them if on none.
    points = np.resize(finite if len(finite) else pool, (batch_size * repeats, len(lo)))
    times = []
    for theta in np.split(points, repeats):
        start = time.perf_counter()
        posterior(theta)
        times.append(time.perf_counter() - start)
    return float(np.median(times)) / batch_size


def process_age_s() -> float:
    """Seconds since this process started: the interpreter, its imports and all it did since.

    On Linux both ends are read against the boot (``/proc/uptime`` and the
    start field of ``/proc/self/stat``, to 10 ms); psutil's start time adds
    the boot time, which the kernel gives in whole seconds.
    """
    try:
        with open("/proc/uptime") as fh:
            uptime = float(fh.read().split()[0])
        with open("/proc/self/stat") as fh:
            start_ticks = int(fh.read().rsplit(")", 1)[1].split()[19])
        return uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    except OSError:
        return time.time() - psutil.Process().create_time()


def estimate_runtime_emcee(step_s: float, max_steps: int, overhead_s: float) -> float:
    """Minutes for ``max_steps`` steps at ``step_s`` s per step of the whole ensemble, plus ``overhead_s``.

    ``step_s`` comes from timing real steps (``emcee_runner.time_steps``):
    emcee's own work per walker-step (measured 11–40 µs on one 2-vCPU VM,
    depending on its load) costs as much as a cheap likelihood, so a constant
    for it was off by up to 2 ×. The run's bookkeeping on top (the stopping
    rule's τ, checkpoints) is ``EMCEE_BOOKKEEPING``.
    """
    return (max_steps * step_s * EMCEE_BOOKKEEPING + overhead_s) / 60.0


def calls_per_iteration(sample: str, n_params: int, walks: int | None = None, slices: int | None = None) -> float:
    """Likelihood calls of one dynesty iteration; ``None`` takes dynesty's default walks or slices."""
    if sample == "auto":
        sample = dynesty_auto_sample(n_params)
    if sample == "unif":
        return UNIF_CALLS_PER_ITERATION
    if sample == "rwalk":
        return float(walks or n_params + 20)
    if sample == "slice":
        # One slice cycles through every dimension.
        return CALLS_PER_SLICE * n_params * (slices or 3)
    if sample == "rslice":
        return CALLS_PER_SLICE * (slices or 3 + n_params)
    raise ValueError(f"unknown dynesty sample method {sample!r}")


def estimate_runtime_dynesty(
    t_eval: float,
    nlive: int,
    n_params: int,
    expected_information: float | None = None,
    sample: str = "auto",
    walks: int | None = None,
    slices: int | None = None,
    dlogz: float = 0.1,
    *,
    method: str = "static",
    overhead_s: float,
) -> float:
    """Minutes for a run: iterations × calls per iteration at ``t_eval`` s per call, plus ``overhead_s``.

    ``t_eval`` is the time of one unvectorised call (``time_likelihood`` with
    ``batch_size=1``), which is how dynesty calls the likelihood. The final
    live points, which end the run's samples, cost no iteration.
    ``expected_information``: H in nats, by default
    ``RUNTIME_INFORMATION_PER_PARAM`` per parameter. The dynamic sampler's
    batches are counted at a static run's calls per iteration, which they
    measured 0.3–0.5 of: a time limit is better long than short.
    """
    if expected_information is None:
        expected_information = RUNTIME_INFORMATION_PER_PARAM * n_params
    iterations = dynesty_iterations(nlive, n_params, expected_information, dlogz, method=method) - nlive
    calls = nlive + iterations * calls_per_iteration(sample, n_params, walks, slices)
    return (calls * t_eval + iterations * DYNESTY_ITERATION_S + overhead_s) / 60.0


def write_resources_json(path, data: dict) -> None:
    """Record a job's resource estimates, atomically (a reader never sees half a file)."""
    atomic_write_json(path, data)


def runtime_for_attempt(recorded_json_path, config_minutes: float, attempt: int, section: str | None = None) -> int:
    """Minutes for Snakemake's ``runtime``: the recorded estimate, else ``config_minutes``, × attempt.

    The estimate is ``runtime_minutes`` at the top of the JSON, or inside
    ``section`` (a run's ``resources.json`` holds one section per sampler).
    Runs inside the Snakefile, so it never raises for the JSON: a missing,
    partial or malformed file, or one without a usable ``runtime_minutes``,
    falls back to the config value.
    """
    minutes = config_minutes
    if recorded_json_path is not None:
        try:
            with open(recorded_json_path) as fh:
                recorded = json.load(fh)
            recorded = float((recorded if section is None else recorded[section])[RUNTIME_KEY])
            if math.isfinite(recorded) and recorded > 0:
                minutes = recorded
        except (OSError, ValueError, TypeError, KeyError, IndexError):
            pass
    try:
        attempt = max(int(attempt), 1)
    except (TypeError, ValueError):
        attempt = 1
    return max(1, math.ceil(minutes * attempt))
