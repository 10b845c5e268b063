"""The comparison rules: Bayes factors per dataset and an overview of all runs."""

from __future__ import annotations

import pandas as pd

from ..atomic import atomic_path
from ..diagnostics import compare_models, write_comparison
from ..diagnostics.bounds import BOTH, describe, one_sided_only
from ..diagnostics.domain_fraction import fraction_cell
from ..diagnostics.estimates import parameters_from
from ..formatting import plus_minus
from ..reporting.resumes import resumes_by_run, resumes_cell
from ..result_files import read_result


def compare(*, summary_paths, out_json, out_csv, log) -> list[dict]:
    summaries = [read_result(p) for p in summary_paths]
    rows = compare_models(summaries)
    write_comparison(rows, out_json, out_csv)
    for r in rows:
        exact = (
            ""
            if r["ln_B_exact"] is None
            else (
                f"; exact ln B {r['ln_B_exact']:.3f} (dynesty cross-check {r['exact_cross_check']}); with "
                f"{r['model_a']}'s prior width halved/doubled {_number(r['ln_B_a_prior_halved'])}/"
                f"{_number(r['ln_B_a_prior_doubled'])}, {r['model_b']}'s {_number(r['ln_B_b_prior_halved'])}/"
                f"{_number(r['ln_B_b_prior_doubled'])}"
            )
        )
        log.info(
            f"{r['model_a']} vs {r['model_b']}: ln B = {r['ln_B']:.2f} ± {r['ln_B_err']:.2f} "
            f"({r['evidence']}{', favours ' + r['favoured'] if r['favoured'] else ''}); ΔAIC {r['delta_aic']:.2f}, ΔBIC {r['delta_bic']:.2f}"
            + exact
        )
        if r["incomplete"]:
            log.warning(
                f"INCOMPLETE EVIDENCE: ln B of {r['model_a']} vs {r['model_b']} is no verdict: dynesty.maxiter "
                f"stopped the ln Z of {r['incomplete']} before dlogz was reached (comparison column 'incomplete')"
            )
    return rows


def _edges(name: str, stats: dict) -> str:
    """'q0: upper prior edge', with what stands beside it when the 68 % region does not reach it."""
    if stats["bound"] == BOTH:
        if not one_sided_only(stats):
            return f"{name}: both prior edges (no 95 % limit)"
        return f"{name}: both prior edges ({'flat: unconstrained' if stats.get('flat') else 'no limit'})"
    return f"{name}: {stats['bound']} prior edge" + (
        "" if one_sided_only(stats) else " (95 % limit; 68 % interval two-sided)"
    )


def overview(*, summary_paths, out_csv) -> pd.DataFrame:
    """One row per run: estimates (one-sided limits flagged), evidence, exact cross-check, convergence, resumes
    and runtimes, for the report."""
    rows, names = [], {}
    for path in summary_paths:
        s = read_result(path)
        row = {"dataset": s["dataset"], "model": s["model"], "n_data": s["n_data"]}
        parameters = s.get("parameters", {})
        names.update(dict.fromkeys(parameters))
        for name, st in parameters.items():
            row[name] = describe(st)
        bounds = [_edges(name, st) for name, st in parameters.items() if st.get("bound")]
        row["one-sided limits"] = "BOUND: " + "; ".join(bounds) if bounds else "none"
        row["estimates from"] = parameters_from(s) if parameters else "none"
        row["chi2_min"] = round(s["chi2_min"], 3)
        if "dynesty" in s:
            row["logZ"] = plus_minus(s["dynesty"]["logz"], s["dynesty"]["logz_err"])
            # A summary written before maxiter existed has no "complete": its run reached dlogz.
            row["logZ complete"] = (
                "yes"
                if s["dynesty"].get("complete", True)
                else f"INCOMPLETE: dynesty.maxiter stopped it with dlogz {s['dynesty']['dlogz_remaining']:.4g} left"
            )
            row["prior fraction in domain"] = fraction_cell(s["dynesty"]["domain"]["prior_fraction"])
            row["dynesty resumes"] = "; ".join(
                (f"{label}: " if label else "") + resumes_cell(resumes, end)
                for label, resumes, end in resumes_by_run(s["dynesty"])
            )
        if s.get("quadrature"):
            row["logZ exact"] = f"{s['quadrature']['logz']:.3f}"
            check = s["cross_check"]
            row["exact cross-check"] = "passed" if check["passed"] else "FAILED: " + "; ".join(check["failures"])
        else:
            row["exact cross-check"] = "not available (more than 2 parameters)"
        if "emcee" in s:
            e = s["emcee"]
            row["converged"] = (
                "yes" if e["converged"] else "NO: " + "; ".join(e["convergence_failures"] or ["stopping rule not met"])
            )
            row["emcee steps"] = e["n_steps"]
            row["emcee resumes"] = resumes_cell(e["resumes"], e["n_steps"])
        for sampler, job in (s.get("resources") or {}).items():
            if isinstance(job, dict):
                row[f"{sampler} runtime estimated / measured (min)"] = (
                    f"{job['runtime_estimate_min']:.2f} / {job['runtime_min']:.2f}"
                )
        rows.append(row)
    frame = pd.DataFrame(rows)
    # Every model's parameters beside the run's name, before the checks and runtimes.
    first = ["dataset", "model", "n_data", *names]
    frame = frame[first + [c for c in frame.columns if c not in first]]
    with atomic_path(out_csv) as tmp:
        frame.to_csv(tmp, index=False)
    return frame


def _number(value) -> str:
    return "n/a" if value is None else f"{value:.2f}"
