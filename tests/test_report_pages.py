"""The report's Overview and Provenance pages, from the files of a real JLA workflow."""

import copy
import json
import os
import shutil
from html.parser import HTMLParser

from janusfit.atomic import sha256_file
from janusfit.diagnostics import compare_models, kass_raftery_label
from janusfit.formatting import decimals, plus_minus
from janusfit.reporting.overview import landing_html, overview_html, parameter_rows
from janusfit.reporting.provenance import provenance_html, versions
from janusfit.reporting.stale import earlier_exports, stale_runs


class _Text(HTMLParser):
    """Text of the page, and the text inside elements of class 'fail'."""

    def __init__(self):
        super().__init__()
        self.text, self.failed, self._stack = [], [], []

    def handle_starttag(self, tag, attrs):
        if tag in ("br", "meta"):
            return
        self._stack.append("fail" in (dict(attrs).get("class") or "").split())

    def handle_endtag(self, tag):
        self._stack.pop()

    def handle_data(self, data):
        self.text.append(data)
        if any(self._stack):
            self.failed.append(data)


def _parse(page: str) -> _Text:
    parser = _Text()
    parser.feed(page)
    return parser


def _load(jla_run):
    base = jla_run / "results" / "jla"
    summaries = [json.loads((base / m / "summary.json").read_text()) for m in ("janus", "lcdm")]
    convergences = {("jla", m): json.loads((base / m / "convergence.json").read_text()) for m in ("janus", "lcdm")}
    comparisons = {"jla": json.loads((base / "comparison.json").read_text())}
    return summaries, convergences, comparisons


def test_the_workflow_writes_the_overview_page(jla_run):
    page = (jla_run / "results" / "overview.html").read_text()
    summaries, convergences, comparisons = _load(jla_run)
    assert page == overview_html(summaries, comparisons, convergences, meta={})


def test_overview_csv_gives_every_models_parameters_after_the_runs_name(jla_run):
    """Before, ΛCDM's Om came last, after the runtimes, and JANUS's q0 after n_data."""
    header = (jla_run / "results" / "overview.csv").read_text().splitlines()[0].split(",")
    assert header[:6] == ["dataset", "model", "n_data", "q0", "Om", "one-sided limits"]


def test_overview_gives_ln_b_label_and_every_parameter(jla_run):
    summaries, convergences, comparisons = _load(jla_run)
    parsed = _parse(overview_html(summaries, comparisons, convergences, meta={}))
    text = " ".join(parsed.text)
    (row,) = comparisons["jla"]
    assert f"ln B(janus : lcdm) = {plus_minus(row['ln_B'], row['ln_B_err'], sign=True)}" in text
    assert f"{row['evidence']} evidence" in text and f"{row['favoured']} is favoured" in text
    assert f"{row['delta_chi2_min']:+.2f}" in text and f"{row['delta_bic']:+.2f}" in text
    assert f"{row['ln_B_exact']:+.3f}" in text
    sensitivity = [row[f"ln_B_{s}_prior_{k}"] for s in "ab" for k in ("halved", "doubled")]
    assert f"{min(sensitivity):+.2f} to {max(sensitivity):+.2f}" in text
    for s in summaries:
        ((name, st),) = s["parameters"].items()
        # JLA's posteriors lie inside their priors: median, 68 % and 95 % intervals, no limit.
        assert st["bound"] is None
        places = decimals(st["sd"])  # two significant digits of the sd
        assert f"[{st['q025']:.{places}f}, {st['q975']:.{places}f}]" in text
        assert f"{st['median']:.{places}f} {st['q84'] - st['median']:+.{places}f} / " in text
        conv = convergences[("jla", s["model"])]
        assert f"{conv['parameters'][name]['rhat']:.4f}" in text
        assert f"{conv['parameters'][name]['ess_bulk']:.0f}" in text
    assert text.count("Converged: every check passed.") == 2
    assert parsed.failed == []


def test_the_landing_page_says_which_model_is_favoured_and_whether_runs_converged(jla_run):
    summaries, _, comparisons = _load(jla_run)
    (row,) = comparisons["jla"]
    fragment = (jla_run / "results" / "overview_landing.html").read_text()
    assert fragment == landing_html(summaries, comparisons)
    assert (
        f"jla: lcdm is favoured over janus: ln B(janus : lcdm) = {plus_minus(row['ln_B'], row['ln_B_err'], sign=True)}, "
        f"{row['evidence']} evidence"
    ) in "".join(_parse(fragment).text)
    assert "Every emcee run passed its convergence checks (2 runs)." in fragment
    summaries[0]["emcee"]["converged"] = False
    assert "NOT CONVERGED: jla/janus" in landing_html(summaries, comparisons)


def test_a_failed_check_and_a_bound_are_shown_in_red_and_as_a_limit(jla_run):
    summaries, convergences, comparisons = _load(jla_run)
    janus = copy.deepcopy(summaries[0])
    conv = copy.deepcopy(convergences[("jla", "janus")])
    failure = "rhat of q0 = 1.0312, wanted < 1.01"
    janus["emcee"].update(converged=False, convergence_failures=[failure])
    conv["checks"] = [
        dict(c, passed=False) if (c["check"], c["parameter"]) == ("rhat", "q0") else c for c in conv["checks"]
    ]
    conv["parameters"]["q0"]["rhat"] = 1.0312
    q0 = janus["parameters"]["q0"]
    q0.update(bound="upper", piled=True, edge=0.0, limit=-0.0221)
    parsed = _parse(overview_html([janus, summaries[1]], comparisons, {**convergences, ("jla", "janus"): conv}, {}))
    assert "NOT CONVERGED: do not trust this posterior." in parsed.failed
    assert failure in parsed.failed and "1.0312" in parsed.failed
    text = " ".join(parsed.text)
    assert f"q0 > {-0.0221:.{decimals(q0['sd'])}f} (95 % limit)" in text and "against the upper prior edge 0" in text
    # Each under its header: no median to give in the 68 % column, the limit in the 95 % one.
    [[_, at_68, at_95]] = parameter_rows(janus)
    assert "piled against the upper prior edge 0" in at_68[0] and at_95[0].startswith("q0 &gt; ")


def test_a_stuck_walker_is_named_in_red_and_a_passing_run_says_none_is(jla_run):
    summaries, convergences, comparisons = _load(jla_run)
    conv = convergences[("jla", "janus")]
    deficit = conv["log_prob"]["max_walker_deficit"]
    text = " ".join(_parse(overview_html(summaries, comparisons, convergences, {})).text)
    where = "below" if deficit >= 0 else "above"
    assert f"No walker is stuck: the farthest in ln p is {abs(deficit):.1f} standard errors {where} the others" in text
    stuck = copy.deepcopy(conv)
    stuck["log_prob"].update(max_walker_deficit=11.73, stuck_walkers=[7])
    parsed = _parse(overview_html(summaries, comparisons, {**convergences, ("jla", "janus"): stuck}, {}))
    assert any("Stuck: walker 7, up to 11.7 standard errors below the others in ln p" in t for t in parsed.failed)
    stuck["log_prob"].update(max_walker_deficit=-44.8, stuck_walkers=[5])
    parsed = _parse(overview_html(summaries, comparisons, {**convergences, ("jla", "janus"): stuck}, {}))
    assert any("Stuck: walker 5, up to 44.8 standard errors above the others in ln p" in t for t in parsed.failed)
    stuck["log_prob"].update(max_walker_deficit=0.4, stuck_walkers=[9], frozen_walkers=[9])
    parsed = _parse(overview_html(summaries, comparisons, {**convergences, ("jla", "janus"): stuck}, {}))
    assert any("Stuck: walker 9, up to 0.4 standard errors below" in t for t in parsed.failed)
    assert any("Walker 9 never moved in the kept steps." in t for t in parsed.failed)


def test_an_incomplete_evidence_is_shown_in_red_and_gives_no_verdict(jla_run):
    summaries, convergences, _ = _load(jla_run)
    assert [s["dynesty"]["complete"] for s in summaries] == [True, True]
    janus = copy.deepcopy(summaries[0])
    janus["dynesty"].update(complete=False, dlogz_remaining=2.5)
    comparisons = {"jla": compare_models([janus, summaries[1]])}
    parsed = _parse(overview_html([janus, summaries[1]], comparisons, convergences, {}))
    headline = "INCOMPLETE EVIDENCE, NO VERDICT: ln B(janus : lcdm) = "
    assert any(headline in t and "dynesty.maxiter stopped the ln Z of janus" in t for t in parsed.failed)
    assert "INCOMPLETE ln Z of janus: no verdict" in parsed.failed
    assert any("INCOMPLETE: dynesty.maxiter stopped it with dlogz 2.5 left" in t for t in parsed.failed)
    assert " is favoured" not in " ".join(parsed.text)
    # The table's Kass & Raftery column gives no strength either.
    strength = kass_raftery_label(2 * (janus["dynesty"]["logz"] - summaries[1]["dynesty"]["logz"]))
    assert "no verdict: incomplete ln Z" in parsed.text and strength not in parsed.text
    landing = landing_html([janus, summaries[1]], comparisons)
    assert 'style="color:#c00;font-weight:600"><b>jla</b>: ' + headline in landing


def test_run_metadata_heads_the_overview_and_the_provenance(jla_run, tmp_path):
    summaries, convergences, comparisons = _load(jla_run)
    meta = {"name": "JANUS vs ΛCDM on JLA", "description": "binned JLA, default priors", "author": "A. Person"}
    text = " ".join(_parse(overview_html(summaries, comparisons, convergences, meta)).text)
    assert "janusfit: JANUS vs ΛCDM on JLA" in text and "binned JLA, default priors" in text and "A. Person" in text

    data = json.loads((jla_run / "results" / "jla" / "data.json").read_text())
    config = {"run": meta, "datasets": {"jla": {"format": "jla_binned"}}, "models": ["janus", "lcdm"]}
    page = provenance_html(config, summaries, [data], versions())
    text = " ".join(_parse(page).text)
    for key, path in data["members"][0]["files"].items():
        assert path in text and sha256_file(path) in text
    for s in summaries:
        assert s["fingerprint"] in text
    assert f"dynesty {versions()['dynesty']}".split()[1] in text and "format: jla_binned" in text


def test_the_workflow_writes_the_provenance_page(jla_run):
    text = " ".join(_parse((jla_run / "results" / "provenance.html").read_text()).text)
    for model in ("janus", "lcdm"):
        assert json.loads((jla_run / f"results/jla/{model}/summary.json").read_text())["fingerprint"] in text
    assert "emcee" in text and versions()["emcee"] in text
    assert "max_steps: 4000" in text  # the config as run, with the test's settings


def test_a_finished_workflows_pages_show_no_stale_run(jla_run):
    assert stale_runs(jla_run / "results") == []
    assert earlier_exports(jla_run / "results") == []


def test_exports_older_than_a_remade_summary_are_earlier_results(tmp_path, jla_run):
    """A summary remade and the workflow stopped before the exports after it: they hold the earlier numbers."""
    results = tmp_path / "results"
    shutil.copytree(jla_run / "results", results, symlinks=True)
    summary = results / "jla/lcdm/summary.json"
    later = max(p.stat().st_mtime for p in results.rglob("*")) + 10
    os.utime(summary, (later, later))
    assert earlier_exports(results) == [
        results / "jla/lcdm/export",
        results / "jla/comparison.json",
        results / "jla/comparison.csv",
        results / "jla/constraints.tex",
    ]


def test_the_tables_are_earlier_results_when_a_run_they_show_is_no_longer_done(tmp_path, jla_run):
    """A model just added whose first run stopped is in none of the tables: they stay. A run they show whose
    chain is gone (a rerun under way, stopped) makes them, and its own summary and exports, earlier results."""
    results = tmp_path / "results"
    shutil.copytree(jla_run / "results", results, symlinks=True)
    (results / "jla/wcdm").mkdir()
    shutil.copy(results / "jla/lcdm/preflight.json", results / "jla/wcdm/preflight.json")
    assert earlier_exports(results) == []
    (results / "jla/lcdm/emcee/chain.h5").unlink()
    assert earlier_exports(results) == [
        results / "jla/lcdm/summary.json",
        results / "jla/lcdm/export",
        results / "jla/comparison.json",
        results / "jla/comparison.csv",
        results / "jla/constraints.tex",
    ]


def test_an_overview_whose_runs_are_gone_marks_every_run_it_shows(tmp_path, jla_run):
    """The workflow's ``onerror`` handler raised (``NotAResultsRoot``, a traceback) where the runs' directories
    were gone and the overview left: the case of all where its pages show what is no longer there."""
    shutil.copy(jla_run / "results/overview.csv", tmp_path / "overview.csv")
    assert stale_runs(tmp_path) == ["jla/janus", "jla/lcdm"]


def test_an_overview_janusfit_did_not_write_marks_nothing(tmp_path):
    """An ``overview.csv`` without the dataset and model columns raised ``KeyError`` in the handler."""
    (tmp_path / "overview.csv").write_text("run,ln_z\njla/lcdm,172.8\n")
    assert stale_runs(tmp_path) == []


def test_ln_b_is_printed_to_its_errors_digits_as_in_the_latex_table():
    """The second audit's case: the pages gave ln B = -4.53 ± 0.01 where constraints.tex gave -4.5307 ± 0.0090."""
    from janusfit.reporting.overview import headline

    row = {"model_a": "janus", "model_b": "lcdm", "ln_B": -4.53071, "ln_B_err": 0.00903, "favoured": "lcdm"}
    row["evidence"] = "very strong"
    assert "ln B(janus : lcdm) = -4.5307 ± 0.0090, very strong evidence" in headline(row)
