"""One evidence and one posterior from ``dynesty.repeats`` runs with consecutive seeds.

The runs are independent estimates of the same ln Z and the same posterior.
Everything a dynesty job writes must speak of all of them: ln Z is their
mean, the weighted samples are their equal mixture, and the figures beside
ln Z (the part inside the model's domain, the running error, the
information, the calls) are combined the same way, so that no field of
``evidence.json`` or ``samples.h5`` silently describes the first seed alone.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from .dynesty_runner import DynestyResult


def combine_repeats(results: list[DynestyResult]) -> dict:
    """Each run's figures, and their mean ln Z, observed scatter and the mean's error.

    The mean's error ``mean_err`` is the larger of the scatter and the runs'
    rms error, over √N: with few repeats the scatter alone is itself uncertain.
    """
    logz = np.array([r.logz for r in results])
    errors = np.array([r.logz_err for r in results])
    n = len(results)
    scatter = float(np.std(logz, ddof=1)) if n > 1 else None
    rms_err = float(np.sqrt(np.mean(errors**2)))
    return {
        "n": n,
        "seeds": [r.seed for r in results],
        "logz": logz.tolist(),
        "logz_err": errors.tolist(),
        "logz_err_running": [r.logz_err_running for r in results],
        "information": [r.information for r in results],
        "n_calls": [r.n_calls for r in results],
        "n_iter": [r.n_iter for r in results],
        "resumes": [r.resumes for r in results],
        "mean": float(logz.mean()),
        "scatter": scatter,
        "mean_err": max(scatter or 0.0, rms_err) / np.sqrt(n),
    }


def combined_result(results: list[DynestyResult]) -> DynestyResult:
    """The job's result: one run as it is; several as their mean ln Z and what they cost together.

    ``logz`` and ``logz_err`` are the mean and its error (``combine_repeats``);
    ``logz_inside`` is the mean of the runs' (every run samples the same
    domain, so ``logz = logz_inside + ln_domain_fraction`` still holds);
    ``logz_err_running`` the runs' running estimates combined as the rms part
    of ``logz_err`` (None if any is not a number); ``information`` their
    mean. Calls, iterations, time and resumes are the runs' together (each
    run's are in ``combine_repeats``); ``seed`` is the first, the configured
    one. The mean is complete only if every run is, and ``dlogz_remaining``
    is the largest any run left. ``moment_errors`` are the runs' over N, added
    in quadrature, as the pooled samples are their equal mixture.
    """
    if len(results) == 1:
        return results[0]
    n = len(results)
    combined = combine_repeats(results)
    running = [r.logz_err_running for r in results]
    return replace(
        results[0],
        logz=combined["mean"],
        logz_err=combined["mean_err"],
        logz_inside=float(np.mean([r.logz_inside for r in results])),
        logz_err_running=None if None in running else math.sqrt(np.mean(np.square(running)) / n),
        information=float(np.mean([r.information for r in results])),
        n_calls=sum(r.n_calls for r in results),
        n_iter=sum(r.n_iter for r in results),
        resumes=[it for r in results for it in r.resumes],
        elapsed_s=sum(r.elapsed_s for r in results),
        complete=all(r.complete for r in results),
        dlogz_remaining=max((r.dlogz_remaining for r in results if r.dlogz_remaining is not None), default=None),
        moment_errors={
            p: {k: math.sqrt(sum(r.moment_errors[p][k] ** 2 for r in results)) / n for k in ("mean", "sd")}
            for p in results[0].moment_errors
        },
    )


def pooled_samples(runs: list[dict]) -> dict:
    """The runs' weighted samples as one posterior: all their points, each run's normalised weights over N.

    Each run's weighted points estimate the posterior; their equal mixture
    does too, with the points of all N. ``repeat`` says which run a point is
    from; ``logwt`` stays each run's own ln weight (relative to its own ln Z).
    """
    n = len(runs)
    pooled = {key: np.concatenate([run[key] for run in runs]) for key in ("samples", "logl", "logwt")}
    pooled["weights"] = np.concatenate([run["weights"] / run["weights"].sum() / n for run in runs])
    pooled["repeat"] = np.concatenate([np.full(len(run["weights"]), k, dtype=np.int32) for k, run in enumerate(runs)])
    return pooled
