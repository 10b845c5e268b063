"""The preflight rule: check a run before its samplers start, and record what they will need.

One job per run, before both samplers: it loads the data again (validating
it), checks the likelihood, the walkers, the disk, the memory and the output
directory, and writes the memory and runtime estimates to ``resources.json``,
from which the workflow takes each sampling job's ``runtime``, and the
measured threads (:mod:`janusfit.resources.threads`), from which it takes
each sampling job's ``threads``.
"""

from __future__ import annotations

import math
import pickle
from pathlib import Path

from ..resources.checks import (
    LIKELIHOOD_DRAWS,
    chain_disk_bytes,
    dynesty_disk_bytes,
    nan_names_the_prior,
    raise_if_failed,
    run_checks,
    write_preflight,
)
from ..resources.cores import heavy_policy
from ..resources.memory import DEFAULT_INFORMATION, dynesty_iterations, memory_budget, memory_table
from ..resources.requests import heavy_rows, memory_estimate
from ..resources.runtime import (
    DYNESTY_ITERATION_S,
    RUNTIME_KEY,
    calls_per_iteration,
    estimate_runtime_dynesty,
    estimate_runtime_emcee,
    process_age_s,
    time_likelihood,
    write_resources_json,
)
from ..run import load_run
from ..sampling.emcee_runner import time_steps
from ..sampling.registry import SAMPLERS


def preflight_run(
    *, config, dataset, model, data_json, granted_mem_mb, out_json, out_table, resources_json, log, threads=1
) -> dict:
    """Run every check, write the results and the estimates, and raise when a check failed.

    ``granted_mem_mb`` is the ``mem_mb`` Snakemake gave this job, which asked
    for as much as the largest sampling job will (None outside Snakemake);
    ``threads`` is what it gave this job, the most a sampling job may ask
    for: under the measured policy the likelihood is timed with 1 …
    ``threads`` threads (one where its rows are too light to share out:
    :func:`janusfit.resources.requests.preflight_threads`).
    """
    samplers = [SAMPLERS[s] for s in config["samplers"]]
    settings, posterior = load_run(config, dataset, model)
    log.info(f"{dataset}: {posterior.n_data} data points loaded and validated")
    estimates = {s.name: memory_estimate(config, dataset, model, s.name, data_json, threads) for s in samplers}
    log.info(memory_table(estimates.values()))
    disk = sum(s.call("disk", posterior, settings) for s in samplers)

    requested = max(est.total_mb for est in estimates.values())
    available, source = memory_budget(requested, granted_mem_mb)
    result = run_checks(
        posterior,
        n_walkers=settings.emcee.n_walkers if "emcee" in estimates else None,
        estimates_mb={s: est.total_mb for s, est in estimates.items()},
        available_mb=available,
        disk_needed_bytes=disk,
        out_dir=Path(out_json).parent,
        memory_source=source,
        n_draws=LIKELIHOOD_DRAWS["heavy" if heavy_rows(config, dataset) else "light"],
    )
    write_preflight(result, out_json, out_table)
    for c in result["checks"]:
        log.info(f"preflight {'pass' if c['passed'] else 'FAIL'} {c['name']}: {c['detail']}")
    raise_if_failed(result)

    # Timed only now: a likelihood that fails the checks above could not be timed.
    # A sampling job starts as this one did (interpreter, imports, data, the
    # likelihood's first calls): this job's age so far is the estimates' fixed part.
    startup_s = process_age_s()
    record = {"disk_bytes": disk, "startup_s": round(startup_s, 2)}
    # Timed on one thread, numba's and BLAS's: dynesty's jobs run on one, and
    # a job given more runs no slower where they pay. Left at this job's
    # threads, BLAS would time the serial kernel's LAPACK on threads that no
    # job of one thread has (×0.7 idle, ×30 with the other core busy).
    from ..likelihood import parallel

    parallel.use_threads(1)
    for s in samplers:
        with nan_names_the_prior(posterior, during="timing the likelihood"):
            record[s.name] = entry = s.call("estimates", posterior, settings, estimates[s.name], startup_s)
        upper = entry.get("seed_upper_bound_mb")
        log.info(
            f"{s.name}: memory estimate {entry['mem_mb']} MB"
            + (f" (whole chain in memory, the seed's upper bound: {upper} MB)" if upper else "")
            + f"; runtime estimate {entry[RUNTIME_KEY]:.1f} min at "
            + (f"{entry['step_s'] * 1e3:.2f} ms per step, " if "step_s" in entry else "")
            + f"{entry['likelihood_s'] * 1e6:.1f} µs per likelihood evaluation, "
            f"{startup_s:.1f} s of it to start"
        )
    with nan_names_the_prior(posterior, during="timing the likelihood"):
        measured = _measure_threads(config, posterior, settings, samplers, record, threads, log)
    write_resources_json(resources_json, record)
    # The measurement joins the checks' table, which the report shows.
    result = {**result, "checks": result["checks"] + measured}
    write_preflight(result, out_json, out_table)
    return result


def _measure_threads(config, posterior, settings, samplers, record, threads: int, log) -> list[dict]:
    """Under ``cores.heavy: measured``, time each sampler's batch with 1 … ``threads`` threads into ``record``.

    Returns the measurement's rows for the checks' table. A fixed policy
    decides the sampling jobs' threads without it: nothing is timed.
    """
    if not heavy_policy(config["cores"]["heavy"]).measured:
        return []
    # Imported here: the threads policy loads the likelihood's parallel
    # kernels, which no rule script may import before its stage function.
    from ..resources.threads import THREADS_KEY, describe, measure_threads

    rows = []
    for s in samplers:
        record[s.name][THREADS_KEY] = entry = measure_threads(
            posterior,
            batch_size=s.call("batch", settings),
            max_threads=threads,
            own_s=s.call("own_time", record[s.name], posterior, settings),
        )
        log.info(f"{s.name} threads: {describe(entry)}")
        rows.append({"name": f"threads_{s.name}", "passed": True, "detail": describe(entry)})
    return rows


def emcee_disk(posterior, settings) -> int:
    """Bytes of emcee's final chain and checkpoint (the registry's ``disk`` of emcee)."""
    return chain_disk_bytes(settings.emcee.n_walkers, settings.emcee.max_steps, posterior.ndim)


def dynesty_disk(posterior, settings) -> int:
    """Bytes of dynesty's samples and checkpoint generations, every repeat (the registry's ``disk`` of dynesty)."""
    d = settings.dynesty
    points = dynesty_iterations(d.nlive, posterior.ndim, DEFAULT_INFORMATION, d.dlogz, method=d.method)
    return d.repeats * dynesty_disk_bytes(points, posterior.ndim, len(pickle.dumps(posterior)))


def emcee_batch(settings) -> int:
    """Rows of one of emcee's likelihood calls: half the ensemble (the other half is the move's reference)."""
    return max(settings.emcee.n_walkers // 2, 1)


def dynesty_batch(settings) -> int:
    """Rows of one of dynesty's likelihood calls: it calls the likelihood one point at a time."""
    return 1


def emcee_own_time(entry, posterior, settings) -> float:
    """emcee's seconds per evaluation outside the likelihood (its moves, in Python), from the timed steps (the registry's ``own_time``)."""
    return max(entry["step_s"] / settings.emcee.n_walkers - entry["likelihood_s"], 0.0)


def dynesty_own_time(entry, posterior, settings) -> float:
    """dynesty's seconds per likelihood call outside it: an iteration's own work over its calls (the registry's ``own_time``)."""
    return DYNESTY_ITERATION_S / calls_per_iteration(settings.dynesty.sample, posterior.ndim)


def emcee_estimates(posterior, settings, estimate, startup_s: float) -> dict:
    """emcee's entry of resources.json: runtime and memory estimates (the registry's ``estimates`` of emcee)."""
    e = settings.emcee
    t_eval = time_likelihood(posterior, batch_size=emcee_batch(settings))
    step_s = time_steps(posterior, e)
    minutes = estimate_runtime_emcee(step_s, e.max_steps, overhead_s=startup_s)
    return {
        RUNTIME_KEY: round(minutes, 2),
        "mem_mb": estimate.total_mb,
        "seed_upper_bound_mb": estimate.upper_bound_mb,
        "likelihood_s": t_eval,
        "step_s": step_s,
        "memory_components_mb": _rounded(estimate.components),
    }


def dynesty_estimates(posterior, settings, estimate, startup_s: float) -> dict:
    """dynesty's entry of resources.json: runtime and memory estimates (the registry's ``estimates`` of dynesty)."""
    d = settings.dynesty
    t_eval = time_likelihood(posterior, batch_size=dynesty_batch(settings))
    # The repeats run one after another in the one job: its start-up is paid once.
    minutes = (
        d.repeats
        * estimate_runtime_dynesty(
            t_eval, d.nlive, posterior.ndim, sample=d.sample, dlogz=d.dlogz, method=d.method, overhead_s=0.0
        )
        + startup_s / 60.0
    )
    return {
        RUNTIME_KEY: round(minutes, 2),
        "mem_mb": estimate.total_mb,
        "likelihood_s": t_eval,
        "memory_components_mb": _rounded(estimate.components),
    }


def _rounded(components: dict) -> dict:
    return {name: math.ceil(mb * 10) / 10 for name, mb in components.items()}
