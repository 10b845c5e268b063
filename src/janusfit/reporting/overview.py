"""The report's Overview page: what a cosmologist reads first.

Per dataset, each pair of models compared (favoured model, ln B with its
error and Kass & Raftery label, Δχ²_min, ΔAIC, ΔBIC, the exact ln B by
quadrature and how far the prior widths move it); per run, every parameter's
median with its 68 % and 95 % intervals (or the one-sided limit of a
posterior piled against a prior edge), the convergence checks with each
failure in red, the resumes, and wall time and peak memory against their
estimates. Everything comes from the files the workflow already wrote
(``summary.json``, ``comparison.json``, ``convergence.json``); nothing is
recomputed here.
"""

from __future__ import annotations

from ..diagnostics.bounds import BOTH, NO_LIMIT, one_sided_only, unlimited
from ..diagnostics.domain_fraction import fraction_text
from ..diagnostics.estimates import parameters_from
from ..formatting import UNITS, decimals, plus_minus
from . import html
from .html import cell, table, text
from .resumes import reruns_text, resumes_by_run, split_at_end


def _pm(value, error) -> str:
    places = decimals(error)
    return f"{value:.{places}f} ± {error:.{places}f}"


def _signed(value) -> str:
    return "n/a" if value is None else f"{value:+.2f}"


def run_title(meta: dict | None) -> str:
    """The page title: the config's ``run.name`` when it has one."""
    name = (meta or {}).get("name")
    return f"janusfit: {name}" if name else "janusfit: model comparison"


def _metadata(meta: dict | None) -> list[str]:
    meta = meta or {}
    out = [f"<h1>{text(run_title(meta))}</h1>"]
    if meta.get("description"):
        out.append(f"<p>{text(meta['description'])}</p>")
    if meta.get("author"):
        out.append(f'<p class="note">Author: {text(meta["author"])}</p>')
    return out


def headline(row: dict) -> str:
    """One sentence of a comparison: which model the evidence favours, by how much, how strongly."""
    ln_b = f"ln B({row['model_a']} : {row['model_b']}) = {plus_minus(row['ln_B'], row['ln_B_err'], sign=True)}"
    # Rows written before maxiter existed have no "incomplete": their runs reached dlogz.
    if row.get("incomplete"):
        return (
            f"INCOMPLETE EVIDENCE, NO VERDICT: {ln_b}, but dynesty.maxiter stopped the ln Z of "
            f"{row['incomplete']} before dlogz was reached"
        )
    if row["favoured"] is None:
        return f"{ln_b}: neither model is favoured"
    other = row["model_b"] if row["favoured"] == row["model_a"] else row["model_a"]
    return f"{row['favoured']} is favoured over {other}: {ln_b}, {row['evidence']} evidence (Kass & Raftery)"


def comparison_rows(rows: list[dict]) -> list[list]:
    """Table rows of one dataset's comparison (``comparison.json``)."""
    out = []
    for r in rows:
        favoured = r["favoured"] or "neither (tie)"
        if r.get("incomplete"):
            favoured = f"INCOMPLETE ln Z of {r['incomplete']}: no verdict"
        sensitivity = [r[f"ln_B_{side}_prior_{scale}"] for side in "ab" for scale in ("halved", "doubled")]
        sensitivity = [v for v in sensitivity if v is not None]
        prior_range = f"{min(sensitivity):+.2f} to {max(sensitivity):+.2f}" if sensitivity else "n/a"
        exact = "n/a (more than 2 parameters)"
        if r["ln_B_exact"] is not None:
            exact = f"{r['ln_B_exact']:+.3f}"
        check = r["exact_cross_check"]
        out.append(
            [
                f"{r['model_a']} : {r['model_b']}",
                cell(favoured, "fail" if r.get("incomplete") else "headline"),
                cell(plus_minus(r["ln_B"], r["ln_B_err"], sign=True), "num"),
                r["evidence"],
                cell(_signed(r["delta_chi2_min"]), "num"),
                cell(_signed(r["delta_aic"]), "num"),
                cell(_signed(r["delta_bic"]), "num"),
                cell(exact, "num"),
                cell("n/a" if check is None else check, "fail" if check == "FAILED" else None),
                cell(prior_range, "num"),
            ]
        )
    return out


COMPARISON_HEADER = [
    "models (a : b)",
    "favoured",
    "ln B (dynesty)",
    "Kass & Raftery",
    "Δχ²_min",
    "ΔAIC",
    "ΔBIC",
    "ln B exact",
    "dynesty vs exact",
    "ln B, prior widths ×½ or ×2",
]


def parameter_rows(summary: dict) -> list[list]:
    """Per parameter: median with its 68 % interval and the 95 % interval, or the one-sided 95 % limit.

    A posterior piled against a prior edge has the limit alone; one cut by the
    edge further out has its median and 68 % interval, and the limit as its 95 % interval.
    """
    out = []
    for name, st in summary.get("parameters", {}).items():
        label = f"{name} [{UNITS[name][0]}]" if name in UNITS else name
        places = decimals(st["sd"])
        limit = None
        if st.get("bound") == BOTH:
            limit = f"none: {NO_LIMIT}"
        elif st.get("bound"):
            sign = ">" if st["bound"] == "upper" else "<"
            limit = f"{name} {sign} {st['limit']:.{places}f} (95 % limit)"
        if one_sided_only(st):
            # No median to give: the 68 % column says why, the 95 % column has the limit.
            note = (
                unlimited(st).split(" (")[0]
                if st["bound"] == BOTH
                else f"posterior piled against the {st['bound']} prior edge {st['edge']:g}"
            )
            out.append([label, cell(note, "note"), cell(limit, "num")])
            continue
        lo68, hi68 = st["q16"] - st["median"], st["q84"] - st["median"]
        if st.get("bound") == BOTH:
            interval = limit
        elif limit:
            interval = f"{limit}: the {st['bound']} prior edge {st['edge']:g} is inside the 95 % region"
        else:
            interval = f"[{st['q025']:.{places}f}, {st['q975']:.{places}f}]"
        median = f"{st['median']:.{places}f} {hi68:+.{places}f} / {lo68:+.{places}f}"
        out.append([label, cell(median, "num"), cell(interval, "num")])
    return out


def convergence_rows(conv: dict) -> list[list]:
    """τ, N/τ, R̂, bulk and tail ESS per parameter, and the acceptance; a failed check's value in red."""
    passed = {(c["check"], c["parameter"]): c["passed"] for c in conv["checks"]}

    def value(check, parameter, number, fmt):
        ok = passed.get((check, parameter), True)
        # A failed value gets the digits that tell it from its threshold: 49.6 in red beside "N/τ > 50", not 50.
        shown = "n/a" if number is None else format(number, fmt if ok else ".6g")
        return cell(shown, "num" if ok else "num fail")

    rows = []
    for name, p in conv["parameters"].items():
        rows.append(
            [
                name,
                value(None, name, p["tau"], ".1f"),
                value("n_over_tau", name, p["n_over_tau"], ".0f"),
                value("rhat", name, p["rhat"], ".4f"),
                value("ess_bulk", name, p["ess_bulk"], ".0f"),
                value(None, name, p["ess_tail"], ".0f"),
            ]
        )
    lp = conv["log_prob"]
    rows.append(
        ["ln p", "", "", value("rhat", "log_prob", lp["rhat"], ".4f"), value(None, None, lp["ess_bulk"], ".0f"), ""]
    )
    return rows


CONVERGENCE_HEADER = ["parameter", "τ (steps)", "N/τ", "R̂", "bulk ESS", "tail ESS"]


def _verdict(summary: dict, conv: dict | None) -> list[str]:
    e = summary.get("emcee")
    if e is None:
        return []
    if e["converged"]:
        out = ['<p class="pass">Converged: every check passed.</p>']
    else:
        failures = e.get("convergence_failures") or []
        if not e.get("stop_reason", "").startswith("converged") and not failures:
            failures = [f"stopping rule not met ({e.get('stop_reason')})"]
        out = [
            '<p class="fail">NOT CONVERGED: do not trust this posterior.</p>',
            "<ul>" + "".join(f'<li class="fail">{text(f)}</li>' for f in failures) + "</ul>",
        ]
    if conv is not None:
        acc = conv["acceptance"]
        ok = next((c["passed"] for c in conv["checks"] if c["check"] == "acceptance"), True)
        thresholds = conv["thresholds"]
        out.append(table(CONVERGENCE_HEADER, convergence_rows(conv)))
        out.append(
            f'<p class="note">Acceptance fraction: <span class="{"pass" if ok else "fail"}">mean '
            f"{acc['mean']:.3f}</span> (walkers {acc['min']:.3f} to {acc['max']:.3f}; wanted "
            f"{text(thresholds['acceptance'][0])} to {text(thresholds['acceptance'][1])}). "
            f"{conv['n_steps']} steps of {conv['n_walkers']} walkers, burn-in {conv['burn_in']} steps; "
            f"R̂ and ESS over {conv['n_groups']} groups of walkers; wanted N/τ > "
            f"{thresholds['min_n_over_tau']:g}, R̂ < {thresholds['max_rhat']:g}, bulk ESS ≥ "
            f"{thresholds['min_ess_bulk']:g}.{_walkers(conv)}</p>"
        )
    return out


def _walkers(conv: dict) -> str:
    """The per-walker test of ln p, in words; empty for results made before it existed."""
    deficit = conv["log_prob"].get("max_walker_deficit")
    if deficit is None:
        return ""
    limit = conv["thresholds"]["max_walker_deficit"]
    stuck = conv["log_prob"]["stuck_walkers"]
    # Results made before walkers above the others were tested record the lowest walker only.
    where = "below" if deficit >= 0 else "above"
    if stuck:
        walkers = ", ".join(str(w) for w in stuck)
        frozen = conv["log_prob"].get("frozen_walkers") or []
        still = (
            f" Walker{'s' if len(frozen) > 1 else ''} {', '.join(map(str, frozen))} never moved in the kept steps."
            if frozen
            else ""
        )
        return (
            f' <span class="fail">Stuck: walker{"s" if len(stuck) > 1 else ""} {walkers}, up to {abs(deficit):.1f} '
            f"standard errors {where} the others in ln p (wanted within ±{limit:g}).{still}</span>"
        )
    return (
        f" No walker is stuck: the farthest in ln p is {abs(deficit):.1f} standard errors {where} the others "
        f"(wanted within ±{limit:g})."
    )


def _resumes(summary: dict) -> str:
    runs = []
    if "emcee" in summary:
        # A resume at the chain's last step sampled nothing more (a chain cut back ends there too).
        runs.append(("emcee", "step", summary["emcee"]["resumes"], summary["emcee"].get("n_steps")))
    if "dynesty" in summary:
        runs += [
            (f"dynesty {label}".rstrip(), "iteration", resumes, end)
            for label, resumes, end in resumes_by_run(summary["dynesty"])
        ]
    parts = []
    for name, unit, resumes, end in runs:
        interrupted, reruns = split_at_end(resumes, end)
        told = (
            f"resumed {len(interrupted)}× (from {unit} " + ", ".join(map(str, interrupted)) + ")"
            if interrupted
            else "never interrupted"
        )
        parts.append(f"{name}: " + ", ".join(filter(None, [told, reruns_text(reruns)])))
    return "; ".join(parts)


def resource_rows(resources: dict | None) -> list[list]:
    """Per sampler: wall time and peak memory against the estimates (a peak above its estimate in red)."""
    rows = []
    for sampler in ("emcee", "dynesty"):
        r = (resources or {}).get(sampler)
        if not r:
            continue
        over = r["peak_rss_mb"] > r["mem_mb_estimate"]
        rows.append(
            [
                sampler,
                cell(_duration(r["runtime_min"]), "num"),
                cell(_duration(r["runtime_estimate_min"]), "num"),
                cell(f"{r['peak_rss_mb']:.0f} MB", "num fail" if over else "num"),
                cell(f"{r['mem_mb_estimate']:.0f} MB", "num"),
            ]
        )
    return rows


def _duration(minutes: float) -> str:
    """'42 s', '7.5 min' or '3.2 h'."""
    if minutes < 1:
        return f"{60 * minutes:.0f} s"
    return f"{minutes:.1f} min" if minutes < 90 else f"{minutes / 60:.1f} h"


RESOURCE_HEADER = ["sampler", "wall time", "estimate (time limit)", "peak memory", "memory estimate"]


def _evidence(summary: dict) -> str:
    """The run's χ² and evidences as HTML; an incomplete ln Z and a failed cross-check in red."""
    parts = [text(f"χ²_min = {summary['chi2_min']:.2f} ({summary['n_data']} data points)")]
    if "dynesty" in summary:
        d = summary["dynesty"]
        parts.append(text(f"ln Z = {_pm(d['logz'], d['logz_err'])} (dynesty)"))
        # A summary written before maxiter existed has no "complete": its run reached dlogz.
        if not d.get("complete", True):
            parts.append(
                '<span class="fail">'
                + text(f"INCOMPLETE: dynesty.maxiter stopped it with dlogz {d['dlogz_remaining']:.4g} left; ")
                + "not a finished evidence</span>"
            )
        fraction = d["domain"]["prior_fraction"]
        if fraction["value"] < 1:
            parts.append(text(fraction_text(fraction)))
    if summary.get("quadrature"):
        parts.append(text(f"exact ln Z = {summary['quadrature']['logz']:.3f}"))
        check = summary["cross_check"]
        if check and not check["passed"]:
            parts.append(
                '<span class="fail">exact cross-check FAILED: ' + text("; ".join(check["failures"])) + "</span>"
            )
    return "; ".join(parts)


def landing_html(summaries: list[dict], comparisons: dict[str, list[dict]]) -> str:
    """An HTML fragment for the report's landing page: each comparison's sentence and the convergence verdicts.

    Inline styles only: the landing page is Snakemake's, not this module's.
    """
    out = []
    for dataset in dict.fromkeys(s["dataset"] for s in summaries):
        for row in comparisons.get(dataset) or []:
            style = ' style="color:#c00;font-weight:600"' if row.get("incomplete") else ""
            out.append(f"<p{style}><b>{text(dataset)}</b>: {text(headline(row))}.</p>")
    failed = [f"{s['dataset']}/{s['model']}" for s in summaries if s.get("emcee") and not s["emcee"]["converged"]]
    if failed:
        out.append(
            '<p style="color:#c00;font-weight:600">NOT CONVERGED: '
            + text(", ".join(failed))
            + " (the Overview lists the failed checks).</p>"
        )
    elif any(s.get("emcee") for s in summaries):
        out.append(f"<p>Every emcee run passed its convergence checks ({len(summaries)} runs).</p>")
    return "\n".join(out) + "\n"


def overview_html(
    summaries: list[dict],
    comparisons: dict[str, list[dict]],
    convergences: dict[tuple[str, str], dict] | None = None,
    meta: dict | None = None,
) -> str:
    """The Overview page as one HTML document.

    ``summaries`` are the runs' ``summary.json``; ``comparisons`` maps a
    dataset to its ``comparison.json`` rows; ``convergences`` maps
    (dataset, model) to ``convergence.json``; ``meta`` is the config's
    optional ``run`` block (name, description, author).
    """
    convergences = convergences or {}
    body = _metadata(meta)
    datasets = list(dict.fromkeys(s["dataset"] for s in summaries))
    body.append("<h2>Model comparison</h2>")
    if any(comparisons.get(d) for d in datasets):
        body.append(
            '<p class="note">ln B = ln Z<sub>a</sub> − ln Z<sub>b</sub> from dynesty (positive favours a); '
            "the label reads 2 ln B on the scale of Kass &amp; Raftery (1995). Δ = a − b, so a negative "
            "Δχ², ΔAIC or ΔBIC also favours a. The exact ln B is by quadrature (runs of at most two "
            "parameters); the last column is its range when either model's prior widths are halved or "
            "doubled.</p>"
        )
    for dataset in datasets:
        rows = comparisons.get(dataset)
        body.append(f"<h3>{text(dataset)}</h3>")
        if rows:
            body += [
                f'<p class="{"fail" if r.get("incomplete") else "headline"}">{text(headline(r))}</p>' for r in rows
            ]
            body.append(table(COMPARISON_HEADER, comparison_rows(rows)))
        else:
            body.append('<p class="note">No model comparison: it needs dynesty and at least two models.</p>')
    body.append("<h2>Runs</h2>")
    for s in summaries:
        body.append(f"<h3>{text(s['dataset'])} / {text(s['model'])}</h3>")
        body.append(f"<p>{_evidence(s)}</p>")
        if s.get("parameters"):
            header = [f"parameter ({parameters_from(s)})", "median +/− 68 % interval", "95 % interval"]
            body.append(table(header, parameter_rows(s)))
        body += _verdict(s, convergences.get((s["dataset"], s["model"])))
        body.append(f"<p>Resumes: {text(_resumes(s))}</p>")
        rows = resource_rows(s.get("resources"))
        if rows:
            body.append(table(RESOURCE_HEADER, rows))
    return html.page(run_title(meta), body)
