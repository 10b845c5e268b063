"""Pairwise comparison of the models fitted to one dataset.

The Bayes factor of model a over model b is B = Z_a / Z_b, from dynesty's
evidences; its strength is read on the scale of Kass & Raftery (1995, JASA 90,
773, §3.2) for 2 ln B. The differences of the best-fit χ², AIC and BIC are
reported beside it as the frequentist view of the same comparison.

Where both runs have an exact evidence (quadrature, at most two parameters),
the exact ln B is reported beside dynesty's, with whether both dynesty values
agreed with it, and so is ln B when either model's prior width is halved or
doubled (``prior_sensitivity`` of each summary): with flat priors wider than
the likelihood, each doubling of a model's prior costs it about ln 2 per
parameter, which no measurement can decide.
"""

from __future__ import annotations

import itertools
import math

from ..atomic import atomic_path, atomic_write_json
from .quadrature import DYNESTY_CHECK

# The CSV is for people (the JSON keeps every digit): six significant digits
# resolve ln B far below any evidence error.
CSV_FLOAT_FORMAT = "%.6g"
# Upper bounds of |2 ln B| (inclusive) and their labels; above the last, "very strong".
KASS_RAFTERY = ((2.0, "not worth more than a bare mention"), (6.0, "positive"), (10.0, "strong"))
VERY_STRONG = "very strong"
# ``evidence`` of a pair with an unfinished ln Z, whose ``favoured`` is None.
NO_VERDICT = "no verdict: incomplete ln Z"

COLUMNS = [
    "model_a",
    "model_b",
    "ln_B",
    "ln_B_err",
    "two_ln_B",
    "evidence",
    "favoured",
    "incomplete",
    "delta_chi2_min",
    "delta_aic",
    "delta_bic",
    "ln_B_exact",
    "ln_B_exact_err",
    "exact_cross_check",
    "ln_B_a_prior_halved",
    "ln_B_a_prior_doubled",
    "ln_B_b_prior_halved",
    "ln_B_b_prior_doubled",
]


def kass_raftery_label(two_ln_b: float) -> str:
    """Strength of evidence for whichever model 2 ln B favours.

    The scale is symmetric: the label depends on |2 ln B| only, and the sign
    says which model it is for. Boundaries belong to the weaker class
    (2 ln B = 10 is "strong", just above is "very strong"), as the paper's
    "> 10" reads.
    """
    size = abs(float(two_ln_b))
    if math.isnan(size):
        raise ValueError("2 ln B is NaN: an evidence of the comparison is missing or invalid")
    for bound, label in KASS_RAFTERY:
        if size <= bound:
            return label
    return VERY_STRONG


def _compare(a: dict, b: dict) -> dict:
    ln_b = a["dynesty"]["logz"] - b["dynesty"]["logz"]
    if ln_b > 0:
        favoured = a["model"]
    elif ln_b < 0:
        favoured = b["model"]
    else:
        favoured = None
    evidence = kass_raftery_label(2.0 * ln_b)
    incomplete = incomplete_models(a, b)
    if incomplete:
        # Said in the fields a script reads, not only in the report: a label
        # or a favoured model here would read as a verdict.
        favoured, evidence = None, NO_VERDICT
    return {
        "model_a": a["model"],
        "model_b": b["model"],
        "ln_B": float(ln_b),
        "ln_B_err": math.hypot(a["dynesty"]["logz_err"], b["dynesty"]["logz_err"]),
        "two_ln_B": float(2.0 * ln_b),
        "evidence": evidence,
        "favoured": favoured,
        "incomplete": incomplete,
        "delta_chi2_min": float(a["chi2_min"] - b["chi2_min"]),
        "delta_aic": float(a["aic"] - b["aic"]),
        "delta_bic": float(a["bic"] - b["bic"]),
        **_exact(a, b),
    }


def incomplete_models(*summaries: dict) -> str | None:
    """The models whose ln Z is incomplete (``dynesty.maxiter`` stopped them before ``dlogz``), or None.

    A summary without ``complete`` was written before maxiter existed, by a run that reached ``dlogz``.
    """
    names = [s["model"] for s in summaries if not s["dynesty"].get("complete", True)]
    return ", ".join(names) or None


def _dynesty_agrees(summary: dict) -> bool:
    """dynesty's ln Z agreed with the exact one; emcee's moments, also in the run's cross-check, say nothing of ln B."""
    ln_z = [c for c in (summary.get("cross_check") or {}).get("checks", []) if c["what"] == DYNESTY_CHECK]
    return summary["quadrature"].get("status") == "converged" and bool(ln_z) and all(c["agrees"] for c in ln_z)


def _exact(a: dict, b: dict) -> dict:
    """The exact ln B, whether dynesty agreed with quadrature on both runs, and ln B under the scaled priors."""
    qa, qb = a.get("quadrature"), b.get("quadrature")
    out = {column: None for column in COLUMNS[COLUMNS.index("ln_B_exact") :]}
    if not (qa and qb):
        return out
    out["ln_B_exact"] = qa["logz"] - qb["logz"]
    out["ln_B_exact_err"] = math.hypot(qa["logz_err"], qb["logz_err"])
    out["exact_cross_check"] = "passed" if _dynesty_agrees(a) and _dynesty_agrees(b) else "FAILED"
    for side, (mine, other) in (("a", (a, qb)), ("b", (b, qa))):
        for scale, varied in (mine.get("prior_sensitivity") or {}).items():
            if varied["logz"] is not None:
                sign = 1.0 if side == "a" else -1.0
                out[f"ln_B_{side}_prior_{scale}"] = sign * (varied["logz"] - other["logz"])
    return out


def compare_models(summaries: list[dict]) -> list[dict]:
    """One row per pair (a, b), a before b in ``summaries``; ln B = ln Z_a − ln Z_b.

    Every summary is one run on the same dataset (keys model, n_data,
    chi2_min, aic, bic, dynesty: {logz, logz_err}, parameters). Rows have
    the keys of ``COLUMNS``; differences are a minus b, so a negative Δχ²,
    ΔAIC or ΔBIC also favours a. ``favoured`` is None on an exact tie.
    ``incomplete`` names the models of the pair whose ln Z is not a finished
    evidence (None when both are): such an ln B is no verdict, so
    ``favoured`` is None and ``evidence`` reads ``NO_VERDICT``.
    """
    models = [s["model"] for s in summaries]
    if len(set(models)) != len(models):
        raise ValueError(f"a model appears twice among the runs compared: {', '.join(models)}")
    n_data = {s["model"]: s["n_data"] for s in summaries}
    if len(set(n_data.values())) > 1:
        counts = ", ".join(f"{m}: {n}" for m, n in n_data.items())
        raise ValueError(f"runs compared on different data (n_data {counts}); evidences are not comparable")
    return [_compare(a, b) for a, b in itertools.combinations(summaries, 2)]


def write_comparison(rows: list[dict], json_path, csv_path) -> None:
    """Write the rows as a JSON list (full precision) and as a CSV table (six digits), each atomically."""
    import pandas as pd  # here: the diagnostics package is imported by every diagnostic job, only this one writes CSV

    atomic_write_json(json_path, rows)
    with atomic_path(csv_path) as tmp:
        pd.DataFrame(rows, columns=COLUMNS).to_csv(tmp, index=False, float_format=CSV_FLOAT_FORMAT)
