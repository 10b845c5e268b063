"""A LaTeX table of one dataset's constraints and Bayes factors, for a paper.

One row per model: each parameter as median with its 68 % interval (emcee,
after burn-in), or as a one-sided 95 % limit when its posterior is piled
against a prior edge (see :mod:`janusfit.diagnostics.bounds`), χ²_min and
ln Z (dynesty); then one line per pair of models
with ln B, its Kass & Raftery label, ΔAIC and ΔBIC. Numbers are rounded to two
significant digits of their error. Plain ``tabular`` with ``\\hline``: it
compiles without extra packages.

A posterior that failed its convergence checks and an ln Z that
``dynesty.maxiter`` stopped before ``dlogz`` are marked in their cells, and a
Bayes factor built on such an ln Z gives no verdict: a table pasted into a
paper must not pass them off as finished results, as the report does not.
"""

from __future__ import annotations

from pathlib import Path

from .. import __version__
from ..atomic import atomic_write_bytes
from ..diagnostics.bounds import BOTH, one_sided_only
from ..diagnostics.estimates import PARAMETERS_FROM, parameters_from
from ..formatting import UNITS, decimals
from ..layout import COMPARISON, SUMMARY
from ..models import MODELS
from .run import read_json


def _model(name: str) -> str:
    """The model's ``latex_name``, LaTeX already; else its name as text, underscores escaped."""
    model = MODELS.get(name)
    return model.latex_name if model is not None and model.latex_name else name.replace("_", r"\_")


def _constraint(name: str, label: str, stats: dict) -> str:
    """Median with its 68 % interval, or the one-sided limit of a posterior piled against a prior edge.

    A posterior cut by the edge further out, whose 68 % region does not reach it, has its median and interval.
    """
    if one_sided_only(stats) and stats["bound"] == BOTH:
        return f"${label.strip('$')}$ " + ("unconstrained" if stats.get("flat") else "no limit within its prior")
    if one_sided_only(stats):
        # Piled against the upper edge: the data say only how far below it the parameter may go.
        relation = ">" if stats["bound"] == "upper" else "<"
        d = decimals(stats["sd"])
        unit = UNITS.get(name, ("", ""))[1]
        return rf"${label.strip('$')} {relation} {stats['limit']:.{d}f}{unit}$ ({100 * stats['credibility']:g}\,\%)"
    median, up, down = stats["median"], stats["q84"] - stats["median"], stats["median"] - stats["q16"]
    d = decimals(min(up, down))
    unit = UNITS.get(name, ("", ""))[1]
    no_limit = r" (no 95\,\% limit)" if stats.get("bound") == BOTH else ""
    return f"${label.strip('$')} = {median:.{d}f}^{{+{up:.{d}f}}}_{{-{down:.{d}f}}}{unit}${no_limit}"


NOT_CONVERGED = r" \textbf{(not converged)}"
INCOMPLETE = r" \textbf{(incomplete)}"


def _unconverged(summary: dict) -> bool:
    return not summary.get("emcee", {}).get("converged", True)


def _incomplete(summary: dict) -> bool:
    """dynesty.maxiter stopped the run's ln Z before dlogz (a summary without ``complete`` reached dlogz)."""
    dyn = summary.get("dynesty")
    return bool(dyn) and not dyn.get("complete", True)


def _warnings(summary: dict) -> list[str]:
    model, out = summary["model"], []
    if _unconverged(summary):
        out.append(f"% WARNING: {model}: emcee did not converge (see its convergence.json); no constraint is a result")
    if _incomplete(summary):
        out.append(f"% WARNING: {model}: dynesty.maxiter stopped ln Z before dlogz; no Bayes factor on it is a verdict")
    return out


def _plus_minus(value: float, error: float) -> str:
    d = decimals(error)
    return f"${value:.{d}f} \\pm {error:.{d}f}$"


def table(summaries: list[dict], comparison: list[dict]) -> str:
    dataset = summaries[0]["dataset"]
    lines = [
        f"% Constraints and Bayes factors on {dataset} ({summaries[0]['n_data']} data points), written by",
        f"% janusfit {__version__} from {dataset}/<model>/{SUMMARY}"
        + (f" and {dataset}/{COMPARISON}." if comparison else "."),
        "% Parameters: median and 68 % interval, or a one-sided limit ("
        + "; ".join(dict.fromkeys(parameters_from(s) for s in summaries if s.get("parameters")))
        + "); ln Z: dynesty; ln B = ln Z_a - ln Z_b; Delta AIC = AIC_a - AIC_b and Delta BIC likewise "
        "(negative favours a).",
        *(w for s in summaries for w in _warnings(s)),
        r"\begin{tabular}{llrr}",
        r"\hline",
        r"Model & Constraints & $\chi^2_{\rm min}$ & $\ln Z$ \\",
        r"\hline",
    ]
    for s in summaries:
        params = s.get("parameters") or {}
        labels = s.get("labels") or {}
        constraints = ", ".join(_constraint(p, labels.get(p, p), params[p]) for p in s["param_names"] if p in params)
        if constraints and _unconverged(s):
            constraints += NOT_CONVERGED
        elif constraints and parameters_from(s) == PARAMETERS_FROM["dynesty"] and _incomplete(s):
            constraints += INCOMPLETE
        dyn = s.get("dynesty")
        logz = _plus_minus(dyn["logz"], dyn["logz_err"]) if dyn else "--"
        if _incomplete(s):
            logz += INCOMPLETE
        lines.append(f"{_model(s['model'])} & {constraints or '--'} & {s['chi2_min']:.1f} & {logz} \\\\")
    if comparison:
        lines.append(r"\hline")
        for row in comparison:
            a, b = _model(row["model_a"]), _model(row["model_b"])
            if row.get("incomplete"):
                incomplete = ", ".join(_model(m) for m in row["incomplete"].split(", "))
                verdict = f"incomplete $\\ln Z$ of {incomplete}: no verdict"
            else:
                favoured = f"for {_model(row['favoured'])}" if row.get("favoured") else "(a tie)"
                verdict = f"{row['evidence']} {favoured}"
            lines.append(
                f"\\multicolumn{{4}}{{l}}{{$\\ln B$({a} : {b}) = {_plus_minus(row['ln_B'], row['ln_B_err'])}, "
                f"{verdict}; $\\Delta$AIC = {row['delta_aic']:.1f}, "
                f"$\\Delta$BIC = {row['delta_bic']:.1f}}} \\\\"
            )
    lines += [r"\hline", r"\end{tabular}", ""]
    return "\n".join(lines)


def export_table(summary_paths, comparison_path, out_path) -> Path:
    """Write the LaTeX table of one dataset: a row per summary (in the order given), then the Bayes factors.

    ``comparison_path`` (None when the models are not compared) is the
    dataset's ``comparison.json``; a pair in it whose models are not both
    among the summaries is left out.
    """
    summaries = [read_json(p) for p in summary_paths]
    models = {s["model"] for s in summaries}
    comparison = (
        [row for row in read_json(comparison_path) if {row["model_a"], row["model_b"]} <= models]
        if comparison_path is not None
        else []
    )
    out = Path(out_path)
    atomic_write_bytes(out, table(summaries, comparison).encode())
    return out


def table_inputs(dataset_dir, models=None) -> tuple[list[Path], Path | None]:
    """The finished runs' summaries in ``dataset_dir`` and its comparison.

    ``models`` (in their order) are the runs the table covers, as the config
    that last finished the workflow had them; None takes every finished run
    found, in the comparison's order, then by name.
    """
    dataset_dir = Path(dataset_dir)
    comparison = dataset_dir / COMPARISON
    found = sorted(p.parent.name for p in dataset_dir.glob(f"*/{SUMMARY}"))
    if models is None:
        rows = read_json(comparison) if comparison.exists() else []
        ordered = [m for row in rows for m in (row["model_a"], row["model_b"]) if m in found]
        models = list(dict.fromkeys(ordered + found))
    else:
        models = [m for m in models if m in found]
    return [dataset_dir / m / SUMMARY for m in models], comparison if comparison.exists() else None
