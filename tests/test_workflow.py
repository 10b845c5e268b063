"""The real workflow on real data: outputs, the summary contract, published values.

Interruption and resume are tested by tests/test_fuzz.py.
"""

import json

import emcee
import h5py
import numpy as np
import pytest

from snakemake_runner import run, write_config

SUMMARY_KEYS = {"dataset", "model", "n_data", "parameters", "chi2_min", "aic", "bic", "emcee", "dynesty", "fingerprint"}
STAT_KEYS = {"mean", "sd", "median", "q16", "q84", "q025", "q975"}


@pytest.fixture(scope="module")
def jla_run(tmp_path_factory, shared_data):
    directory = tmp_path_factory.mktemp("jla")
    write_config(directory, shared_data, models=["janus", "lcdm"],
                 emcee={"max_steps": 4000, "checkpoint": {"steps": 500}},
                 dynesty={"nlive": 400, "dlogz": 0.1})
    run(directory)
    return directory


def test_every_output_exists(jla_run):
    for model in ("janus", "lcdm"):
        base = jla_run / "results" / "jla" / model
        for name in ("emcee/chain.h5", "emcee/run.json", "dynesty/samples.h5", "dynesty/evidence.json",
                     "convergence.json", "trace.png", "corner.png", "summary.json"):
            assert (base / name).stat().st_size > 0, name
    for name in ("jla/comparison.json", "jla/comparison.csv", "jla/data.json", "jla/data.png",
                 "overview.csv", "report.html"):
        assert (jla_run / "results" / name).stat().st_size > 0, name


def test_summary_contract(jla_run):
    for model, params in (("janus", ["q0"]), ("lcdm", ["Om"])):
        s = json.loads((jla_run / "results/jla" / model / "summary.json").read_text())
        assert SUMMARY_KEYS <= set(s)
        assert (s["dataset"], s["model"], s["n_data"]) == ("jla", model, 31)
        assert list(s["parameters"]) == params
        assert STAT_KEYS <= set(s["parameters"][params[0]])
        assert {"n_walkers", "n_steps", "tau_max", "converged", "resumes"} <= set(s["emcee"])
        assert {"logz", "logz_err", "n_calls", "resumes"} <= set(s["dynesty"])
        assert s["emcee"]["resumes"] == [] and s["dynesty"]["resumes"] == []
        assert s["aic"] == pytest.approx(s["chi2_min"] + 2)
        assert s["bic"] == pytest.approx(s["chi2_min"] + np.log(31))


def test_chain_is_an_emcee_hdf5_backend(jla_run):
    run_info = json.loads((jla_run / "results/jla/lcdm/emcee/run.json").read_text())
    backend = emcee.backends.HDFBackend(str(jla_run / "results/jla/lcdm/emcee/chain.h5"), read_only=True)
    assert backend.get_chain().shape == (run_info["n_steps"], run_info["n_walkers"], 1)
    assert np.all(np.isfinite(backend.get_log_prob()))
    assert backend.get_autocorr_time(tol=0)[0] == pytest.approx(run_info["tau"][0], rel=1e-9)


def test_jla_lcdm_recovers_betoule_2014(jla_run):
    """Om = 0.295 ± 0.034 (Betoule et al. 2014, A&A 568, A22), from both samplers."""
    s = json.loads((jla_run / "results/jla/lcdm/summary.json").read_text())
    om = s["parameters"]["Om"]
    assert om["mean"] == pytest.approx(0.295, abs=0.01)
    assert om["sd"] == pytest.approx(0.034, rel=0.2)
    with h5py.File(jla_run / "results/jla/lcdm/dynesty/samples.h5") as f:
        dyn_mean = float(np.sum(f["weights"][:] * f["samples"][:, 0]))
    assert abs(dyn_mean - om["mean"]) < 0.2 * om["sd"]
    assert s["emcee"]["converged"]


def test_comparison_is_consistent_with_evidences(jla_run):
    rows = json.loads((jla_run / "results/jla/comparison.json").read_text())
    (row,) = rows
    za = json.loads((jla_run / "results/jla/janus/summary.json").read_text())["dynesty"]
    zb = json.loads((jla_run / "results/jla/lcdm/summary.json").read_text())["dynesty"]
    assert (row["model_a"], row["model_b"]) == ("janus", "lcdm")
    assert row["ln_B"] == pytest.approx(za["logz"] - zb["logz"])
    assert row["ln_B_err"] == pytest.approx(np.hypot(za["logz_err"], zb["logz_err"]))
