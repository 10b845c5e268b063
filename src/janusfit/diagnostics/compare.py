"""Pairwise comparison of the models fitted to one dataset.

The Bayes factor of model a over model b is B = Z_a / Z_b, from dynesty's
evidences; its strength is read on the scale of Kass & Raftery (1995, JASA 90,
773, §3.2) for 2 ln B. The differences of the best-fit χ², AIC and BIC are
reported beside it as the frequentist view of the same comparison.
"""

from __future__ import annotations

import itertools
import math

import pandas as pd

from ..atomic import atomic_path, atomic_write_json

# The CSV is for people (the JSON keeps every digit): six significant digits
# resolve ln B far below any evidence error.
CSV_FLOAT_FORMAT = "%.6g"
# Upper bounds of |2 ln B| (inclusive) and their labels; above the last, "very strong".
KASS_RAFTERY = ((2.0, "not worth more than a bare mention"), (6.0, "positive"), (10.0, "strong"))
VERY_STRONG = "very strong"

COLUMNS = [
    "model_a",
    "model_b",
    "ln_B",
    "ln_B_err",
    "two_ln_B",
    "evidence",
    "favoured",
    "delta_chi2_min",
    "delta_aic",
    "delta_bic",
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
    return {
        "model_a": a["model"],
        "model_b": b["model"],
        "ln_B": float(ln_b),
        "ln_B_err": math.hypot(a["dynesty"]["logz_err"], b["dynesty"]["logz_err"]),
        "two_ln_B": float(2.0 * ln_b),
        "evidence": kass_raftery_label(2.0 * ln_b),
        "favoured": favoured,
        "delta_chi2_min": float(a["chi2_min"] - b["chi2_min"]),
        "delta_aic": float(a["aic"] - b["aic"]),
        "delta_bic": float(a["bic"] - b["bic"]),
    }


def compare_models(summaries: list[dict]) -> list[dict]:
    """One row per pair (a, b), a before b in ``summaries``; ln B = ln Z_a − ln Z_b.

    Every summary is one run on the same dataset (keys model, n_data,
    chi2_min, aic, bic, dynesty: {logz, logz_err}, parameters). Rows have
    the keys of ``COLUMNS``; differences are a minus b, so a negative Δχ²,
    ΔAIC or ΔBIC also favours a. ``favoured`` is None on an exact tie.
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
    atomic_write_json(json_path, rows)
    with atomic_path(csv_path) as tmp:
        pd.DataFrame(rows, columns=COLUMNS).to_csv(tmp, index=False, float_format=CSV_FLOAT_FORMAT)
