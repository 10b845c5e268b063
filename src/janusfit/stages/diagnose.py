"""The diagnostic rules: convergence checks, corner plot, and the run summary."""

from __future__ import annotations

import numpy as np

from .. import __version__
from ..atomic import atomic_write_json
from ..config import param_labels, param_names, run_settings
from ..diagnostics import diagnose
from ..diagnostics.convergence import DEFAULT_THRESHOLDS, sd_error
from ..diagnostics.estimates import PARAMETERS_FROM, estimates
from ..diagnostics.quadrature import cross_check, exact_evidence, prior_sensitivity
from ..errors import JanusfitError
from ..imports import import_emcee
from ..result_files import read_result
from ..sampling.dynesty_samples import read_weighted
from ..sampling.emcee_hdf5 import chain_problem, require_intact


class ConvergenceFailed(JanusfitError):
    """A convergence check failed and ``convergence.strict`` is set."""


def read_chain(path):
    try:
        problem = chain_problem(path)
    except BlockingIOError as exc:
        raise JanusfitError(f"the final chain '{path}' is open for writing in another process ({exc})") from None
    if problem:
        raise JanusfitError(
            f"the final chain '{path}' cannot be read ({problem}). Rerun Snakemake: the damaged "
            "file is set aside and the emcee job rebuilds it from its checkpoint segments"
        )
    require_intact(path)
    backend = import_emcee().backends.HDFBackend(str(path), read_only=True)
    return backend.get_chain(), backend.get_log_prob(), backend.accepted


def convergence(*, config, dataset, model, chain_h5, out_json, trace_png, log, run_json=None) -> dict:
    from ..plots import trace_plot  # matplotlib only in the jobs that draw

    # The parameters from the config, not from a posterior: no data read, no likelihood imported.
    names, labels = param_names(config, dataset, model), param_labels(config, dataset, model)
    chain, log_prob, accepted = read_chain(chain_h5)
    conv = run_settings(config, dataset, model).convergence
    thresholds = {k: conv[k] for k in DEFAULT_THRESHOLDS}
    report = diagnose(chain, log_prob, accepted, names, thresholds=thresholds, n_groups=conv["n_groups"])
    tau_history = read_result(run_json)["tau_history"] if run_json else None
    trace_plot(
        chain,
        names,
        labels,
        trace_png,
        burn_in=report["burn_in"],
        log_prob=log_prob,
        tau_history=tau_history,
        n_over_tau=conv["min_n_over_tau"],
        title=f"{dataset}/{model}",
    )
    atomic_write_json(out_json, report)
    if report["passed"]:
        log.info(f"all convergence checks pass for {dataset}/{model}")
    else:
        banner = "!" * 72
        log.warning(
            "\n".join(
                [
                    banner,
                    f"CONVERGENCE CHECKS FAILED for {dataset}/{model}:",
                    *[f"  - {f}" for f in report["failures"]],
                    "Do not trust this posterior: run longer (emcee.max_steps) or with more walkers.",
                    banner,
                ]
            )
        )
        if conv["strict"]:
            raise ConvergenceFailed(
                f"convergence checks failed for {dataset}/{model} and convergence.strict is set: "
                + "; ".join(report["failures"])
            )
    return report


def posterior_samples(chain_h5, convergence_json) -> np.ndarray:
    """emcee draws after the burn-in that the convergence rule chose, flattened."""
    burn_in = read_result(convergence_json)["burn_in"]
    chain, _, _ = read_chain(chain_h5)
    return chain[burn_in:].reshape(-1, chain.shape[-1])


def corner(*, config, dataset, model, chain_h5, convergence_json, samples_h5, out_png, truth_json=None) -> None:
    from ..plots import corner_plot

    names = param_names(config, dataset, model)
    emcee_samples = posterior_samples(chain_h5, convergence_json) if chain_h5 else None
    dyn, weights, _ = read_weighted(samples_h5) if samples_h5 else (None, None, None)
    truths = None
    if truth_json:
        truth = read_result(truth_json)
        truths = [truth.get(p) for p in names]
    corner_plot(
        emcee_samples,
        dyn,
        weights,
        names,
        param_labels(config, dataset, model),
        out_png,
        truths=truths,
        title=f"{dataset}/{model}",
    )


def best_fit(posterior, start: np.ndarray) -> tuple[np.ndarray, float]:
    """Minimum of the goodness-of-fit χ² (:meth:`Posterior.profile_chi2`), polished from the best sampled point (bounded Nelder–Mead)."""
    from scipy.optimize import minimize  # only the summary job fits

    def objective(theta):
        if not posterior.in_prior(theta[None, :])[0]:
            return np.inf
        return float(posterior.profile_chi2(theta[None, :])[0])

    res = minimize(objective, start, method="Nelder-Mead", options={"xatol": 1e-8, "fatol": 1e-10, "maxiter": 4000})
    if res.fun <= objective(start):
        return res.x, float(res.fun)
    return start, objective(start)


def summary(
    *,
    config,
    dataset,
    model,
    out_json,
    emcee_files=None,
    dynesty_json=None,
    dynesty_samples=None,
    resources=None,
    memory_figures=None,
    log=None,
) -> dict:
    """The run's summary.json: the contract other tools read (see README).

    ``memory_figures`` maps each sampler to its ``memory.json`` and the figure drawn of it, titled with the
    peak ``resources`` gives it.

    The parameter estimates are emcee's after its burn-in; a run with
    dynesty alone has them from dynesty's weighted samples
    (``dynesty_samples``), and ``parameters_from`` says which.

    Beside the samplers' results: each parameter's one-sided limit when its
    posterior is piled against an edge of the sampled box, and, for runs of
    at most two parameters, the exact ln Z and posterior moments by
    quadrature, the samplers checked against them, and ln Z with the prior
    width halved and doubled.
    """
    from ..run import load_run  # the likelihood: the summary evaluates it (quadrature, best fit)

    _, posterior = load_run(config, dataset, model)
    out = {
        "dataset": dataset,
        "model": model,
        "n_data": posterior.n_data,
        "janusfit_version": __version__,
        "param_names": list(posterior.param_names),
        "labels": {p: posterior.labels.get(p, p) for p in posterior.param_names},
        "priors": {p: [float(lo), float(hi)] for p, (lo, hi) in zip(posterior.param_names, posterior.bounds)},
    }
    fingerprints = []
    start = posterior.prior_centre()
    ess = sd_errors = mean_errors = None
    if emcee_files:
        chain_h5, run_json, convergence_json = emcee_files
        run = read_result(run_json)
        conv = read_result(convergence_json)
        ess = {p: conv["parameters"][p]["ess_bulk"] for p in posterior.param_names}
        out["parameters"] = estimates(posterior, posterior_samples(chain_h5, convergence_json), n_eff=ess)
        out["parameters_from"] = PARAMETERS_FROM["emcee"]
        chain, log_prob, _ = read_chain(chain_h5)
        start = chain[np.unravel_index(np.argmax(log_prob), log_prob.shape)]
        kept = chain[conv["burn_in"] :]
        sd_errors = {p: sd_error(kept[:, :, i], conv["n_groups"]) for i, p in enumerate(posterior.param_names)}
        tau = {p: _finite_or_none(conv["parameters"][p]["tau"]) for p in posterior.param_names}
        unresolved = [
            f"tau of {p} is unresolved (the stored lag sums give only a lower bound: run longer)"
            for p, ok in zip(posterior.param_names, run.get("tau_resolved", []))
            if not ok
        ]
        out["emcee"] = {
            "n_walkers": run["n_walkers"],
            "n_steps": run["n_steps"],
            "tau": tau,
            "tau_max": max((t for t in tau.values() if t is not None), default=None),
            "burn_in": conv["burn_in"],
            # The checks decide, and a τ the lag sums did not resolve; not the stopping rule's target,
            # which only says where the chain stops (stop.n_over_tau may well exceed min_n_over_tau).
            "converged": bool(conv["passed"] and not unresolved),
            "stop_reason": run["stop_reason"],
            "resumes": run["resumes"],
            "convergence_passed": conv["passed"],
            "convergence_failures": conv["failures"] + unresolved,
        }
        fingerprints.append(run["fingerprint"])
    if dynesty_json:
        dyn = read_result(dynesty_json)
        out["dynesty"] = {
            key: dyn[key]
            for key in (
                "logz",
                "logz_err",
                "logz_err_running",
                "n_calls",
                "n_iter",
                "resumes",
                "information",
                "repeats",
                "domain",
            )
        }
        # An evidence.json written before maxiter existed is of a run that reached dlogz.
        out["dynesty"]["complete"] = bool(dyn.get("complete", True))
        out["dynesty"]["dlogz_remaining"] = dyn.get("dlogz_remaining")
        fingerprints.append(dyn["fingerprint"])
        if dynesty_samples and "parameters" not in out:
            draws, weights, logl = read_weighted(dynesty_samples)
            out["parameters"] = estimates(posterior, draws, weights)
            out["parameters_from"] = PARAMETERS_FROM["dynesty"]
            # Absent from an evidence.json written before they were computed: that run's moments go unchecked.
            errors = dyn.get("moment_errors") or {}
            mean_errors = {p: e["mean"] for p, e in errors.items()}
            sd_errors = {p: e["sd"] for p, e in errors.items()}
            # The prior's centre may be outside the model's domain (JANUS on Union3), where χ² is infinite.
            start = draws[np.argmax(logl)]
    exact = exact_evidence(posterior)
    out["quadrature"] = exact
    out["cross_check"] = cross_check(
        exact,
        out.get("dynesty"),
        out.get("parameters"),
        ess,
        sd_errors=sd_errors,
        mean_errors=mean_errors,
        estimates_from="emcee" if "emcee" in out else "dynesty",
    )
    out["prior_sensitivity"] = prior_sensitivity(posterior, exact)
    if log is not None and out["cross_check"] and not out["cross_check"]["passed"]:
        log.warning(f"EXACT CROSS-CHECK FAILED for {dataset}/{model}: " + "; ".join(out["cross_check"]["failures"]))
    theta, chi2_min = best_fit(posterior, np.asarray(start, dtype=float))
    k, n = posterior.ndim, posterior.n_data
    out.update(
        {
            "best_fit": dict(zip(posterior.param_names, map(float, theta))),
            "chi2_min": chi2_min,
            "aic": chi2_min + 2 * k,
            "bic": chi2_min + k * np.log(n),
            "fingerprint": "+".join(fingerprints),
        }
    )
    if resources is not None:
        out["resources"] = resources
    _require_finite(out, f"summary of run {dataset}/{model}")
    if memory_figures:
        from ..plots import memory_plot

        for sampler, (memory_json, png) in memory_figures.items():
            record = read_result(memory_json)
            peak = resources[sampler]["peak_rss_mb"]
            memory_plot(record, png, title=f"{sampler} on {dataset}/{model}", peak_mb=peak)
    atomic_write_json(out_json, out)
    return out


def _finite_or_none(value) -> float | None:
    """A τ, or None when it could not be estimated (a chain too short or constant)."""
    return float(value) if value is not None and np.isfinite(value) else None


def _require_finite(value, where: str, key: str = "") -> None:
    """Refuse NaN or infinity anywhere in ``value``: a summary says what is known, or nothing."""
    if isinstance(value, dict):
        for k, v in value.items():
            _require_finite(v, where, f"{key}.{k}" if key else str(k))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _require_finite(v, where, f"{key}[{i}]")
    elif isinstance(value, float) and not np.isfinite(value):
        raise JanusfitError(
            f"{where}: '{key}' is {value}; the summary was not written. A sampler or a check "
            "returned a non-number: see its log, and check that the data constrain the model"
        )
