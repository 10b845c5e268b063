"""The sampling rules: emcee and dynesty, checkpointed, resumable, and watched for memory.

Each job first checks that its memory estimate fits what Snakemake gave it:
the preflight rule checked this once, but a rerun may be given less
(``--resources mem_mb`` lowers a job's ``mem_mb`` silently). The whole job
then runs inside a MemoryMonitor, whose record is written when the sampler
has finished (the summary job draws it).
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import replace

from ..atomic import atomic_write_json
from ..config import run_settings
from ..diagnostics.domain_fraction import prior_fraction_in_domain
from ..diagnostics.quadrature import MAX_PARAMS, cross_check, exact_evidence
from ..layout import repeat_dir
from ..resources.checks import nan_names_the_prior
from ..resources.memory import check_fits, memory_budget
from ..resources.monitor import MemoryMonitor, job_peak_mb
from ..resources.requests import memory_estimate
from ..run import load_run
from ..sampling.domain import domain_settings
from ..sampling.dynesty_runner import run_dynesty, write_samples
from ..sampling.emcee_runner import run_emcee
from ..sampling.fingerprint import digest, make_fingerprint
from ..sampling.invocation import record_invocation
from ..sampling.progress import earlier_sessions_s
from ..sampling.repeats import combine_repeats, combined_result, pooled_samples
from ..sampling.session import CheckpointSession

MONITOR_INTERVAL_S = 0.5


@contextmanager
def watched(
    *,
    config,
    dataset,
    model,
    sampler,
    data_json,
    granted_mem_mb,
    memory_json,
    checkpoint_dir,
    log,
    threads=1,
):
    """Refuse to start when the estimate does not fit; record RSS over the block, written only on success.

    The record's time is this job's, and what earlier sessions of its
    checkpoint sampled (``earlier_sessions_s``): a job resumed after an
    interruption ran only its last part.
    """
    estimate = memory_estimate(config, dataset, model, sampler, data_json, threads)
    log.info(
        f"{sampler} memory estimate {estimate.total_mb} MB (its components are in the pre-flight job's log "
        "and resources.json)"
    )
    check_fits(estimate.total_mb, *memory_budget(estimate.total_mb, granted_mem_mb))
    with MemoryMonitor(MONITOR_INTERVAL_S) as monitor:
        yield
    record = monitor.write(
        memory_json,
        estimate.total_mb,
        earlier_sessions_s=earlier_sessions_s(checkpoint_dir, repeats=_repeats(config, dataset, model, sampler)),
    )
    log.info(
        f"{sampler} peak RSS {job_peak_mb(record):.0f} MB (estimate {estimate.total_mb} MB) "
        f"over {monitor.duration_s:.0f} s"
    )


def _repeats(config, dataset, model, sampler) -> int:
    """How many runs the sampler makes: dynesty's ``repeats``; a directory of a config that ran more is not this run's."""
    return run_settings(config, dataset, model).dynesty.repeats if sampler == "dynesty" else 1


def use_threads(threads: int, log) -> None:
    """numba's and BLAS threads at the job's ``threads``, never above (Snakemake's count, measured by the pre-flight job)."""
    # Imported here: rule scripts import this module before their stage
    # function runs, and must not load the likelihood's kernels by then.
    from ..likelihood import parallel

    log.info(f"likelihood threads: {parallel.use_threads(threads)} (the job's threads: {threads})")


def sample_emcee(*, chain_path, run_json, **job) -> dict:
    """Rule emcee: the chain to ``chain_path`` (HDF5) and its run record to ``run_json``; ``job`` as :func:`sample`."""
    return sample(sampler="emcee", outputs={"chain_path": chain_path, "run_json": run_json}, **job)


def sample_dynesty(*, samples_path, evidence_json, **job) -> dict:
    """Rule dynesty: the weighted samples to ``samples_path`` (HDF5) and ln Z to ``evidence_json``; ``job`` as :func:`sample`."""
    return sample(sampler="dynesty", outputs={"samples_path": samples_path, "evidence_json": evidence_json}, **job)


def sample(
    *,
    sampler,
    outputs,
    config,
    dataset,
    model,
    checkpoint_dir,
    data_json,
    memory_json,
    log,
    granted_mem_mb=None,
    threads=1,
) -> dict:
    """Run ``sampler`` on one run, watched for memory, writing ``outputs`` (its rule's, by keyword).

    ``threads``: what Snakemake gave the job; the likelihood's kernels use that many (:func:`use_threads`).
    """
    use_threads(threads, log)
    with watched(
        config=config,
        dataset=dataset,
        model=model,
        sampler=sampler,
        data_json=data_json,
        granted_mem_mb=granted_mem_mb,
        memory_json=memory_json,
        checkpoint_dir=checkpoint_dir,
        log=log,
        threads=threads,
    ):
        return SAMPLE[sampler](
            config=config, dataset=dataset, model=model, checkpoint_dir=checkpoint_dir, log=log, **outputs
        )


def _sample_emcee(*, config, dataset, model, checkpoint_dir, chain_path, run_json, log) -> dict:
    settings, posterior = load_run(config, dataset, model)
    fingerprint = make_fingerprint(posterior, "emcee", settings.emcee.chain_settings())
    log.info(
        f"emcee on {dataset}/{model}: parameters {', '.join(posterior.param_names)}, "
        f"{settings.emcee.n_walkers} walkers, at most {settings.emcee.max_steps} steps, "
        f"checkpoint every {settings.emcee.checkpoint_steps} steps or {settings.emcee.checkpoint_seconds:.0f} s "
        f"in '{checkpoint_dir}'"
    )
    with CheckpointSession(checkpoint_dir, fingerprint, settings.on_change, log=log.info) as session:
        record_invocation(session.dir)
        with nan_names_the_prior(posterior, during="sampling"):
            result = run_emcee(posterior, settings.emcee, session, chain_path, log=log.info, warn=log.warning)
    info = {
        **result.to_json(),
        "n_walkers": settings.emcee.n_walkers,
        "max_steps": settings.emcee.max_steps,
        "param_names": list(posterior.param_names),
        "fingerprint": digest(fingerprint),
    }
    atomic_write_json(run_json, info)
    taus = ", ".join(f"{name} {tau:.3g}" for name, tau in zip(posterior.param_names, result.tau))
    log.info(f"emcee finished: {result.n_steps} steps ({result.stop_reason}), tau {taus}, resumes {result.resumes}")
    return info


def _sample_dynesty(*, config, dataset, model, checkpoint_dir, samples_path, evidence_json, log) -> dict:
    """Nested sampling in this process, ``dynesty.repeats`` times with consecutive seeds.

    The first run (the configured seed) keeps the checkpoint directory;
    repeat k runs with seed + k in ``<checkpoint dir>/repeat-k``. With
    repeats, ln Z and its error are the mean over the runs and its error, and
    the weighted samples are all the runs' (``sampling.repeats``).

    A process pool was tried and dropped: dynesty's pool forks workers after
    OpenBLAS has started its threads and deadlocked here, and these
    likelihoods cost microseconds to milliseconds, less than a pool's round trip.
    """
    settings, posterior = load_run(config, dataset, model)
    d = settings.dynesty
    log.info(
        f"dynesty ({d.method}) on {dataset}/{model}: nlive {d.nlive}, dlogz {d.dlogz}, "
        f"{d.repeats} run(s), checkpoint every {d.checkpoint_seconds:g} s in '{checkpoint_dir}'"
    )
    if posterior.log_domain_fraction < 0:
        box = ", ".join(
            f"{p} in [{lo:.6g}, {hi:.6g}]" for p, (lo, hi) in zip(posterior.param_names, posterior.sampling_bounds)
        )
        log.info(
            f"sampling the part of the prior inside the domain of '{model}' ({box}), "
            f"a fraction exp({posterior.log_domain_fraction:.4f}) of the prior"
        )
    graceful = d.method == "static"
    results, runs_samples, fingerprints = [], [], []
    for k in range(d.repeats):
        run = replace(d, seed=d.seed + k)
        fingerprint = make_fingerprint(posterior, "dynesty", {**run.chain_settings(), **domain_settings(posterior)})
        directory = repeat_dir(checkpoint_dir, k)
        with CheckpointSession(directory, fingerprint, settings.on_change, log=log.info, graceful=graceful) as session:
            record_invocation(session.dir)
            with nan_names_the_prior(posterior, during="sampling"):
                result, run_samples = run_dynesty(posterior, run, session, log=log.info, warn=log.warning)
        running = "n/a" if result.logz_err_running is None else f"± {result.logz_err_running:.3f}"
        log.info(
            f"dynesty run {k + 1}/{d.repeats} (seed {run.seed}): logZ = {result.logz:.3f} ± "
            f"{result.logz_err:.3f} (running estimate {running}), "
            f"{result.n_calls} likelihood calls, resumes {result.resumes}"
        )
        runs_samples.append(run_samples)
        results.append(result)
        fingerprints.append(digest(fingerprint))
    evidence = combined_result(results)
    repeats = combine_repeats(results)
    write_samples(samples_path, pooled_samples(runs_samples), posterior.param_names, evidence)
    logz, logz_err = evidence.logz, evidence.logz_err
    info = {
        **evidence.to_json(),
        "repeats": repeats,
        "nlive": d.nlive,
        "dlogz": d.dlogz,
        "maxiter": d.maxiter,
        "param_names": list(posterior.param_names),
        "log_prior_volume": posterior.log_prior_volume(),
        "domain": {
            "sampled_bounds": dict(zip(posterior.param_names, posterior.sampling_bounds.tolist())),
            "ln_fraction": posterior.log_domain_fraction,
            "prior_fraction": prior_fraction_in_domain(posterior),
        },
        "fingerprint": "+".join(fingerprints),
    }
    info["quadrature"] = exact_evidence(posterior)
    info["cross_check"] = cross_check(info["quadrature"], {"logz": logz, "logz_err": logz_err})
    atomic_write_json(evidence_json, info)
    log.info(
        f"dynesty finished: logZ = {logz:.3f} ± {logz_err:.3f}"
        + (f" (mean of {d.repeats} runs, scatter {repeats['scatter']:.3f})" if d.repeats > 1 else "")
    )
    if not info["complete"]:
        log.warning(
            f"INCOMPLETE EVIDENCE for {dataset}/{model}: dynesty.maxiter = {d.maxiter} stopped the run with "
            f"dlogz {info['dlogz_remaining']:.3g} left (target {d.dlogz}); its ln Z is not a finished evidence. "
            "Raise or remove maxiter to finish it (the run resumes its checkpoint)"
        )
    if info["quadrature"] is not None:
        verdict = (
            "agrees" if info["cross_check"]["passed"] else "DISAGREES: " + "; ".join(info["cross_check"]["failures"])
        )
        log.info(f"exact logZ by quadrature {info['quadrature']['logz']:.4f}: dynesty {verdict}")
    else:
        log.info(
            f"exact cross-check skipped: quadrature covers at most {MAX_PARAMS} parameters, this run samples "
            f"{posterior.ndim} ({', '.join(posterior.param_names)})"
        )
    return info


# Each sampler's run, by name: what differs between the two rules beyond their output names.
SAMPLE = {"emcee": _sample_emcee, "dynesty": _sample_dynesty}
