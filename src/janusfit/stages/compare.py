"""The comparison rules: Bayes factors per dataset and an overview of all runs."""

from __future__ import annotations

import json

import pandas as pd

from ..atomic import atomic_path
from ..diagnostics import compare_models, write_comparison


def compare(summary_paths, out_json, out_csv, log) -> list[dict]:
    summaries = [json.loads(open(p).read()) for p in summary_paths]
    rows = compare_models(summaries)
    write_comparison(rows, out_json, out_csv)
    for r in rows:
        log.info(f"{r['model_a']} vs {r['model_b']}: ln B = {r['ln_B']:.2f} ± {r['ln_B_err']:.2f} "
                 f"({r['evidence']}, favours {r['favoured']}); ΔAIC {r['delta_aic']:.2f}, ΔBIC {r['delta_bic']:.2f}")
    return rows


def overview(summary_paths, out_csv) -> pd.DataFrame:
    """One row per run: estimates, evidence, convergence verdict, resumes and runtimes, for the report."""
    rows = []
    for path in summary_paths:
        s = json.loads(open(path).read())
        row = {"dataset": s["dataset"], "model": s["model"], "n_data": s["n_data"]}
        for name, st in s.get("parameters", {}).items():
            row[name] = f"{st['mean']:.4f} ± {st['sd']:.4f}"
        row["chi2_min"] = round(s["chi2_min"], 3)
        if "dynesty" in s:
            row["logZ"] = f"{s['dynesty']['logz']:.3f} ± {s['dynesty']['logz_err']:.3f}"
            row["dynesty resumes"] = ", ".join(map(str, s["dynesty"]["resumes"])) or "none"
        if "emcee" in s:
            e = s["emcee"]
            row["converged"] = "yes" if e["converged"] else "NO: " + "; ".join(e["convergence_failures"] or ["stopping rule not met"])
            row["emcee steps"] = e["n_steps"]
            row["emcee resumes"] = ", ".join(map(str, e["resumes"])) or "none"
        for sampler, job in (s.get("resources") or {}).items():
            if isinstance(job, dict):
                row[f"{sampler} runtime estimated / measured (min)"] = (
                    f"{job['runtime_estimate_min']:.2f} / {job['runtime_min']:.2f}")
        rows.append(row)
    frame = pd.DataFrame(rows)
    with atomic_path(out_csv) as tmp:
        frame.to_csv(tmp, index=False)
    return frame
