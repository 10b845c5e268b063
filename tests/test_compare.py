"""Bayes factors and the Kass & Raftery scale, against hand-computed rows."""

import json
import logging
import math
import re

import pandas as pd
import pytest

from janusfit.diagnostics import compare_models, kass_raftery_label, write_comparison
from janusfit.stages.compare import compare


def summary(model, logz, logz_err, chi2, aic, bic, n_data=40, params=("Om",)):
    return {
        "model": model,
        "n_data": n_data,
        "chi2_min": chi2,
        "aic": aic,
        "bic": bic,
        "dynesty": {"logz": logz, "logz_err": logz_err},
        "parameters": {p: {} for p in params},
    }


@pytest.mark.parametrize(
    ("two_ln_b", "label"),
    [
        (0.0, "not worth more than a bare mention"),
        (1.99, "not worth more than a bare mention"),
        (2.0, "not worth more than a bare mention"),
        (2.01, "positive"),
        (6.0, "positive"),
        (6.01, "strong"),
        (10.0, "strong"),
        (10.01, "very strong"),
        (250.0, "very strong"),
    ],
)
def test_kass_raftery_scale_and_its_boundaries(two_ln_b, label):
    assert kass_raftery_label(two_ln_b) == label
    assert kass_raftery_label(-two_ln_b) == label


def test_kass_raftery_rejects_nan():
    with pytest.raises(ValueError, match="NaN"):
        kass_raftery_label(math.nan)


RUNS = [
    summary("janus", -10.0, 0.1, 35.0, 39.0, 42.4, params=("q0",)),
    summary("lcdm", -13.5, 0.2, 38.2, 40.2, 41.9),
    summary("wcdm", -11.0, 0.3, 34.0, 38.0, 41.4, params=("Om", "w")),
]


def test_rows_by_hand():
    rows = compare_models(RUNS)
    assert [(r["model_a"], r["model_b"]) for r in rows] == [("janus", "lcdm"), ("janus", "wcdm"), ("lcdm", "wcdm")]
    first, second, third = rows
    assert first["ln_B"] == pytest.approx(3.5)
    assert first["ln_B_err"] == pytest.approx(math.sqrt(0.1**2 + 0.2**2))
    assert first["two_ln_B"] == pytest.approx(7.0)
    assert first["evidence"] == "strong"
    assert first["favoured"] == "janus"
    assert first["delta_chi2_min"] == pytest.approx(-3.2)
    assert first["delta_aic"] == pytest.approx(-1.2)
    assert first["delta_bic"] == pytest.approx(0.5)
    # Summaries written before dynesty.maxiter existed have no "complete": their runs reached dlogz.
    assert [r["incomplete"] for r in rows] == [None, None, None]

    assert second["ln_B"] == pytest.approx(1.0)
    assert second["two_ln_B"] == pytest.approx(2.0)
    assert second["evidence"] == "not worth more than a bare mention"
    assert second["favoured"] == "janus"

    # b favoured: negative ln B, the label is the same as for +5
    assert third["ln_B"] == pytest.approx(-2.5)
    assert third["ln_B_err"] == pytest.approx(math.sqrt(0.2**2 + 0.3**2))
    assert third["evidence"] == "positive"
    assert third["favoured"] == "wcdm"
    assert third["delta_chi2_min"] == pytest.approx(4.2)


def test_an_incomplete_evidence_is_flagged_in_the_rows_the_csv_and_the_log(tmp_path, caplog):
    janus, lcdm, wcdm = (json.loads(json.dumps(s)) for s in RUNS)
    janus["dynesty"].update(complete=False, dlogz_remaining=3.2)
    lcdm["dynesty"].update(complete=True, dlogz_remaining=0.05)
    paths = []
    for s in (janus, lcdm, wcdm):
        paths.append(tmp_path / f"{s['model']}.json")
        paths[-1].write_text(json.dumps(s))
    log = logging.getLogger("test_compare")
    with caplog.at_level(logging.INFO, logger="test_compare"):
        rows = compare(summary_paths=paths, out_json=tmp_path / "c.json", out_csv=tmp_path / "c.csv", log=log)
    assert [r["incomplete"] for r in rows] == ["janus", "janus", None]
    csv = pd.read_csv(tmp_path / "c.csv", keep_default_na=False)
    assert csv["incomplete"].tolist() == ["janus", "janus", ""]
    # No field a script reads names a winner or a strength for the pairs with janus's unfinished ln Z.
    assert [(r["favoured"], r["evidence"]) for r in rows] == [
        (None, "no verdict: incomplete ln Z"),
        (None, "no verdict: incomplete ln Z"),
        ("wcdm", "positive"),
    ]
    assert csv[["favoured", "evidence"]].values.tolist() == [[r["favoured"] or "", r["evidence"]] for r in rows]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        f"INCOMPLETE EVIDENCE: ln B of janus vs {b} is no verdict: dynesty.maxiter stopped the ln Z of janus "
        "before dlogz was reached (comparison column 'incomplete')"
        for b in ("lcdm", "wcdm")
    ]


def test_the_exact_cross_check_of_a_comparison_is_dynestys_alone():
    """The audit's case: 'dynesty vs exact' read FAILED when an emcee check of one run failed, dynesty agreeing."""
    from janusfit.diagnostics.quadrature import cross_check

    exact = {"logz": -5.0, "logz_err": 1e-9, "status": "converged", "parameters": {"Om": {"mean": 0.3, "sd": 0.02}}}

    def checked(model, emcee_mean, logz):
        s = summary(model, logz, 0.1, 1, 2, 3)
        emcee = {"Om": {"mean": emcee_mean, "sd": 0.02}}
        dynesty = {"logz": logz, "logz_err": 0.1}
        s.update(quadrature=exact, cross_check=cross_check(exact, dynesty, emcee, ess={"Om": 1000}))
        return s

    emcee_off = checked("a", 0.35, -5.05)  # emcee's mean 79 sigma from the exact one; dynesty's ln Z 0.5 sigma
    assert not emcee_off["cross_check"]["passed"]
    (row,) = compare_models([emcee_off, checked("b", 0.3, -5.0)])
    assert row["exact_cross_check"] == "passed"
    (row,) = compare_models([checked("a", 0.3, -6.0), checked("b", 0.3, -5.0)])  # dynesty 10 sigma off
    assert row["exact_cross_check"] == "FAILED"


def test_exact_tie_favours_neither():
    (row,) = compare_models([summary("a", -5.0, 0.1, 1, 2, 3), summary("b", -5.0, 0.1, 1, 2, 3)])
    assert row["ln_B"] == 0.0 and row["favoured"] is None


def test_runs_on_different_data_are_refused():
    with pytest.raises(ValueError, match="different data"):
        compare_models([summary("a", -5.0, 0.1, 1, 2, 3, n_data=40), summary("b", -5.0, 0.1, 1, 2, 3, n_data=41)])


def test_write_json_and_csv(tmp_path):
    rows = compare_models(RUNS)
    write_comparison(rows, tmp_path / "cmp.json", tmp_path / "out" / "cmp.csv")
    assert json.loads((tmp_path / "cmp.json").read_text()) == rows
    table = pd.read_csv(tmp_path / "out" / "cmp.csv")
    assert list(table.columns) == list(rows[0])
    # The CSV is for people: six significant digits (the JSON keeps them all).
    assert table["two_ln_B"].tolist() == pytest.approx([r["two_ln_B"] for r in rows], rel=5e-6)
    raw = pd.read_csv(tmp_path / "out" / "cmp.csv", dtype=str)
    for column in ("ln_B", "ln_B_err", "two_ln_B", "delta_chi2_min", "delta_aic", "delta_bic"):
        assert all(len(re.sub(r"e.*|[-.]", "", cell).lstrip("0")) <= 6 for cell in raw[column]), column
    assert table["favoured"].tolist() == ["janus", "janus", "wcdm"]
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["cmp.csv", "cmp.json", "out"]


def test_dynesty_resumes_are_told_seed_by_seed_with_repeats():
    """With repeats a job's ``resumes`` hold every run's iterations together; they are shown run by run."""
    from janusfit.reporting.overview import _resumes
    from janusfit.reporting.resumes import resumes_by_run

    one = {"resumes": [120], "n_iter": 900, "repeats": {"n": 1, "seeds": [42], "resumes": [[120]]}}
    assert resumes_by_run(one) == [("", [120], 901)]
    repeated = {"resumes": [120, 80], "repeats": {"n": 2, "seeds": [42, 43], "resumes": [[120], [80]]}}
    assert resumes_by_run(repeated) == [("seed 42", [120], None), ("seed 43", [80], None)]
    assert _resumes({"emcee": {"resumes": []}, "dynesty": repeated}) == (
        "emcee: never interrupted; dynesty seed 42: resumed 1× (from iteration 120); "
        "dynesty seed 43: resumed 1× (from iteration 80)"
    )
    assert _resumes({"dynesty": {"resumes": [], "repeats": None}}) == "dynesty: never interrupted"


def test_a_rerun_of_a_finished_run_is_not_told_as_an_interruption(tmp_path, public_data):
    """Real samplers run to the end, then rerun as a changed input or an upgrade reruns them: each resumes
    its complete checkpoint at the run's end and samples nothing more. Before, the report said "resumed 1×
    (from step 2500)" and overview.csv "2500" of runs never interrupted, and each later rerun added one."""
    from test_bounds import config

    from janusfit.reporting.overview import _resumes
    from janusfit.stages.compare import overview
    from janusfit.stages.diagnose import convergence
    from janusfit.stages.diagnose import summary as summarize
    from janusfit.stages.sample import _sample_dynesty, _sample_emcee

    cfg = config(public_data, "jla")
    cfg.update(models=["lcdm"], samplers=["emcee", "dynesty"])
    cfg["dynesty"].update(nlive=100)
    base, log = tmp_path / "jla" / "lcdm", logging.getLogger("test_compare")
    base.mkdir(parents=True)
    for _ in range(2):
        _sample_emcee(
            config=cfg,
            dataset="jla",
            model="lcdm",
            checkpoint_dir=tmp_path / "ck" / "emcee",
            chain_path=base / "chain.h5",
            run_json=base / "run.json",
            log=log,
        )
        _sample_dynesty(
            config=cfg,
            dataset="jla",
            model="lcdm",
            checkpoint_dir=tmp_path / "ck" / "dynesty",
            samples_path=base / "samples.h5",
            evidence_json=base / "evidence.json",
            log=log,
        )
    convergence(
        config=cfg,
        dataset="jla",
        model="lcdm",
        chain_h5=base / "chain.h5",
        out_json=base / "convergence.json",
        trace_png=base / "trace.png",
        log=log,
    )
    s = summarize(
        config=cfg,
        dataset="jla",
        model="lcdm",
        out_json=base / "summary.json",
        emcee_files=(base / "chain.h5", base / "run.json", base / "convergence.json"),
        dynesty_json=base / "evidence.json",
        dynesty_samples=base / "samples.h5",
        log=log,
    )
    # The record keeps the reruns: the resume at the end of each.
    assert s["emcee"]["resumes"] == [s["emcee"]["n_steps"]]
    assert s["dynesty"]["resumes"] == [s["dynesty"]["n_iter"] + 1]
    assert _resumes(s) == (
        "emcee: never interrupted, rerun 1× after it had finished (sampling nothing more); "
        "dynesty: never interrupted, rerun 1× after it had finished (sampling nothing more)"
    )
    rows = overview(summary_paths=[base / "summary.json"], out_csv=tmp_path / "overview.csv")
    assert list(rows["emcee resumes"]) == list(rows["dynesty resumes"]) == ["none (rerun 1× after it had finished)"]
