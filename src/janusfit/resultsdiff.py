"""Two results roots side by side (two configs, two versions): what changed, and by more than its error?

For every run finished in both (``summary.json``): each parameter's mean ± sd
(emcee), χ²_min, ln Z ± its error (dynesty) and the convergence verdict; for
every dataset compared in both (``comparison.json``): each ln B ± its error.
A number is *flagged* when it moved by more than the combined error of the two
values, hypot(error_A, error_B): for a parameter that is the posterior widths
(the constraint moved by more than its uncertainty), for ln Z and ln B the
sampler's own errors; a verdict is flagged when it differs. Numbers without an
error (χ²_min) are shown, never flagged. Fields are read with ``get``: a field
one of the two versions lacks shows as missing.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

from .formatting import decimals
from .layout import COMPARISON, SUMMARY, NotAResultsRoot
from .result_files import read_result


@dataclass
class Row:
    subject: str  # a run ("jla/lcdm") or a dataset ("jla")
    quantity: str
    a: float | bool | None
    b: float | bool | None
    a_err: float | None = None
    b_err: float | None = None
    flagged: bool = False

    @property
    def delta(self) -> float | None:
        if isinstance(self.a, bool) or isinstance(self.b, bool) or self.a is None or self.b is None:
            return None
        return self.b - self.a

    @property
    def combined_err(self) -> float | None:
        if self.a_err is None or self.b_err is None:
            return None
        return math.hypot(self.a_err, self.b_err)

    @property
    def n_sigma(self) -> float | None:
        d, e = self.delta, self.combined_err
        return abs(d) / e if d is not None and e else None

    def to_json(self) -> dict:
        return {**asdict(self), "delta": self.delta, "combined_err": self.combined_err, "n_sigma": self.n_sigma}


def load(root) -> tuple[dict, dict, list[str]]:
    """(summaries by run key, comparison rows by dataset, what was left out as not done) of the finished runs under ``root``.

    Runs the config no longer has (:func:`~janusfit.layout.left_over`) are
    left out, and so are the comparison rows of their models: their files stay
    on disk, and were compared as if they were results. So are runs whose
    summary is of earlier results (not done to ``janusfit status``: samples
    changed since, a rerun stopped or under way), and a ``comparison.json``
    older than its runs' summaries: compared, they gave the old numbers as
    this root's, and a stopped rerun read as "nothing changed".
    """
    from .status import DONE, results_status

    root = Path(root)
    statuses, _ = results_status(root)
    summaries, not_done = {}, []
    for st in statuses:
        path = root / st.run / SUMMARY
        if st.state == DONE:
            summaries[st.run] = read_result(path)
        elif path.exists():
            read_result(path)  # a summary cut short is named as such, not as a run not done
            not_done.append(f"{st.run} ({st.state})")
    if not summaries:
        raise NotAResultsRoot(
            f"'{root}' has no finished run (no '<dataset>/<model>/{SUMMARY}'"
            + (f", or none of them done: {', '.join(not_done)}" if not_done else "")
            + "); 'janusfit status' shows where its runs stand"
        )
    comparisons = {}
    for dataset in sorted({key.split("/")[0] for key in summaries}):
        path = root / dataset / COMPARISON
        if not path.exists():
            continue
        keys = [key for key in summaries if key.split("/")[0] == dataset]
        if path.stat().st_mtime < max((root / key / SUMMARY).stat().st_mtime for key in keys):
            not_done.append(f"{dataset}/{COMPARISON} (older than its runs' summaries)")
            continue
        models = {key.split("/")[1] for key in keys}
        rows = [r for r in read_result(path) if {r["model_a"], r["model_b"]} <= models]
        if rows:
            comparisons[dataset] = rows
    return summaries, comparisons, not_done


def _number(a, b, subject, quantity, a_err=None, b_err=None) -> Row:
    row = Row(subject, quantity, a, b, a_err, b_err)
    row.flagged = row.n_sigma is not None and row.n_sigma > 1.0
    return row


def _run_rows(key: str, a: dict, b: dict) -> list[Row]:
    rows = []
    pa, pb = a.get("parameters") or {}, b.get("parameters") or {}
    for name in [p for p in pa if p in pb]:
        rows.append(
            _number(
                pa[name].get("mean"),
                pb[name].get("mean"),
                key,
                f"{name} (mean ± sd)",
                pa[name].get("sd"),
                pb[name].get("sd"),
            )
        )
    rows.append(_number(a.get("chi2_min"), b.get("chi2_min"), key, "chi2_min"))
    da, db = a.get("dynesty") or {}, b.get("dynesty") or {}
    if da and db:
        rows.append(_number(da.get("logz"), db.get("logz"), key, "ln Z", da.get("logz_err"), db.get("logz_err")))
    ea, eb = a.get("emcee") or {}, b.get("emcee") or {}
    if ea and eb:
        ca, cb = ea.get("converged"), eb.get("converged")
        rows.append(Row(key, "converged", ca, cb, flagged=ca != cb))
    return rows


def _bayes_factor_rows(dataset: str, a: list, b: list) -> list[Row]:
    """ln B of each pair of models in both, in A's orientation (B's sign flipped if B lists the pair reversed)."""
    pairs_b = {(r["model_a"], r["model_b"]): (r.get("ln_B"), r.get("ln_B_err")) for r in b}
    pairs_b.update(
        {
            (r["model_b"], r["model_a"]): (None if r.get("ln_B") is None else -r["ln_B"], r.get("ln_B_err"))
            for r in b
            if (r["model_b"], r["model_a"]) not in pairs_b
        }
    )
    rows = []
    for ra in a:
        pair = (ra["model_a"], ra["model_b"])
        if pair in pairs_b:
            ln_b, err = pairs_b[pair]
            rows.append(_number(ra.get("ln_B"), ln_b, dataset, f"ln B({pair[0]} : {pair[1]})", ra.get("ln_B_err"), err))
    return rows


def compare_roots(root_a, root_b) -> dict:
    """``{"a", "b", "rows": [Row], "only_in_a": [run], "only_in_b": [run], "not_done_a": [..], "not_done_b": [..]}``."""
    sa, ca, na = load(root_a)
    sb, cb, nb = load(root_b)
    common = [k for k in sa if k in sb]
    if not common:
        raise NotAResultsRoot(
            f"'{root_a}' and '{root_b}' have no finished run in common ({', '.join(sa)} against {', '.join(sb)})"
        )
    rows = [r for key in common for r in _run_rows(key, sa[key], sb[key])]
    rows += [r for d in ca if d in cb for r in _bayes_factor_rows(d, ca[d], cb[d])]
    return {
        "a": str(root_a),
        "b": str(root_b),
        "rows": rows,
        "only_in_a": [k for k in sa if k not in sb],
        "only_in_b": [k for k in sb if k not in sa],
        "not_done_a": na,
        "not_done_b": nb,
    }


def as_json(result: dict) -> dict:
    return {
        **result,
        "rows": [r.to_json() for r in result["rows"]],
        "n_flagged": sum(r.flagged for r in result["rows"]),
    }


def _fmt(value, err, digits: int) -> str:
    if value is None:
        return "missing"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    return f"{value:.{digits}f}" + (f" ± {err:.{digits}f}" if err is not None else "")


def format_comparison(result: dict) -> str:
    """A table: one line per quantity, flagged lines marked '<<'."""
    rows = [("", "quantity", "A", "B", "B - A", "|B - A| / combined error")]
    for r in result["rows"]:
        errors = [e for e in (r.a_err, r.b_err) if e]
        digits = decimals(min(errors)) if errors else 3
        delta = "" if r.delta is None else f"{r.delta:+.{digits}f}"
        sigma = "" if r.n_sigma is None else f"{r.n_sigma:.2f}"
        rows.append(
            (
                r.subject,
                r.quantity,
                _fmt(r.a, r.a_err, digits),
                _fmt(r.b, r.b_err, digits),
                delta,
                sigma + ("  << changed" if r.flagged else ""),
            )
        )
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]) - 1)]
    lines = [f"A: {result['a']}", f"B: {result['b']}", ""]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(row[:-1], widths)) + "  " + row[-1] for row in rows]
    n = sum(r.flagged for r in result["rows"])
    lines += ["", f"{n} of {len(result['rows'])} changed by more than the combined error of A and B"]
    for side in ("a", "b"):
        if result[f"only_in_{side}"]:
            lines.append(f"only in {side.upper()}: {', '.join(result[f'only_in_{side}'])}")
    for side in ("a", "b"):
        if result[f"not_done_{side}"]:
            lines.append(
                f"left out of {side.upper()}, earlier results ('janusfit status' says why): "
                + ", ".join(result[f"not_done_{side}"])
            )
    return "\n".join(lines)
