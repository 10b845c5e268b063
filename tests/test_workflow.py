"""The real workflow on real data: outputs, the summary contract, published values, resume.

Random kills of every kind are in tests/test_fuzz.py; the test here interrupts
at chosen moments so that both samplers are certain to resume mid-way. The
finished JLA workflow (``jla_run``, in conftest.py) is shared with the other
modules that only read results.
"""

import json
import math
import os
import re
import signal
import time

import emcee
import h5py
import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread
from snakemake_runner import HANG_GUARD_S, run, start, write_config

SUMMARY_KEYS = {
    "dataset",
    "model",
    "n_data",
    "parameters",
    "chi2_min",
    "aic",
    "bic",
    "emcee",
    "dynesty",
    "fingerprint",
    "resources",
    "quadrature",
    "cross_check",
    "prior_sensitivity",
}
RESOURCE_KEYS = {"mem_mb_estimate", "peak_rss_mb", "runtime_estimate_min", "runtime_min"}
STAT_KEYS = {"mean", "sd", "median", "q16", "q84", "q025", "q975", "bound", "limit", "edge", "text"}
EXACT_LOGZ = {"janus": 35.465, "lcdm": 39.107}  # by quadrature (tests/test_evidence.py)


def test_every_output_exists(jla_run):
    for model in ("janus", "lcdm"):
        base = jla_run / "results" / "jla" / model
        for name in (
            "emcee/chain.h5",
            "emcee/run.json",
            "dynesty/samples.h5",
            "dynesty/evidence.json",
            "convergence.json",
            "trace.png",
            "corner.png",
            "summary.json",
            "preflight.json",
            "preflight.csv",
            "resources.json",
            "emcee/memory.json",
            "emcee/memory.png",
            "dynesty/memory.json",
            "dynesty/memory.png",
            "export/emcee.1.txt",
            "export/posterior.nc",
            "export/dynesty.1.txt",
        ):
            assert (base / name).stat().st_size > 0, name
        checkpoints = jla_run / "results" / "checkpoints" / "jla" / model
        # No progress.png: these runs are shorter than the figure's interval (emcee.progress.seconds, a day).
        assert not (checkpoints / "emcee" / "progress.png").exists()
        for name in (
            "emcee/progress.json",
            "emcee/invocation.json",
            "dynesty/progress.json",
            "dynesty/invocation.json",
        ):
            assert (checkpoints / name).stat().st_size > 0, name
    for name in (
        "jla/comparison.json",
        "jla/comparison.csv",
        "jla/data.json",
        "jla/data.png",
        "jla/constraints.tex",
        "jla/hubble.png",
        "overview.csv",
        "overview.html",
        "provenance.html",
        "report.html",
    ):
        assert (jla_run / "results" / name).stat().st_size > 0, name


def test_summary_contract(jla_run):
    for model, params in (("janus", ["q0"]), ("lcdm", ["Om"])):
        s = json.loads((jla_run / "results/jla" / model / "summary.json").read_text())
        assert SUMMARY_KEYS <= set(s)
        assert (s["dataset"], s["model"], s["n_data"]) == ("jla", model, 31)
        assert list(s["parameters"]) == params
        assert STAT_KEYS <= set(s["parameters"][params[0]])
        assert {"n_walkers", "n_steps", "tau", "tau_max", "burn_in", "converged", "resumes"} <= set(s["emcee"])
        assert {"logz", "logz_err", "logz_err_running", "n_calls", "resumes", "repeats", "domain"} <= set(s["dynesty"])
        assert s["parameters"][params[0]]["bound"] is None
        assert s["emcee"]["resumes"] == [] and s["dynesty"]["resumes"] == []
        assert s["aic"] == pytest.approx(s["chi2_min"] + 2)
        assert s["bic"] == pytest.approx(s["chi2_min"] + np.log(31))


def test_preflight_passed_and_recorded_estimates(jla_run):
    for model in ("janus", "lcdm"):
        base = jla_run / "results/jla" / model
        result = json.loads((base / "preflight.json").read_text())
        # eight checks, then the threads measured for each sampler
        names = [c["name"] for c in result["checks"]]
        assert result["passed"] and len(names) == 10 and names[-2:] == ["threads_emcee", "threads_dynesty"]
        assert (base / "preflight.csv").read_text().count(",yes,") == 10
        record = json.loads((base / "resources.json").read_text())
        assert record["emcee"]["seed_upper_bound_mb"] > 0
        for sampler in ("emcee", "dynesty"):
            assert record[sampler]["runtime_minutes"] > 0 and record[sampler]["mem_mb"] > 0
        log = (jla_run / "results/logs/preflight/jla" / f"{model}.log").read_text()
        assert f"emcee: memory estimate {record['emcee']['mem_mb']} MB" in log
        assert f"the seed's upper bound: {record['emcee']['seed_upper_bound_mb']} MB" in log


def test_logs_of_a_normal_run_are_plain(jla_run):
    """The memory table once per pre-flight job, floats rounded, and nothing that looks like a warning."""
    logs = jla_run / "results" / "logs"
    for model in ("janus", "lcdm"):
        assert (logs / "preflight/jla" / f"{model}.log").read_text().count("memory estimate (MB") == 1
        for sampler in ("emcee", "dynesty"):
            text = (logs / sampler / "jla" / f"{model}.log").read_text()
            assert "memory estimate (MB" not in text and text.count(f"{sampler} memory estimate ") == 1
        finished = next(
            line for line in (logs / "emcee/jla" / f"{model}.log").read_text().splitlines() if "emcee finished" in line
        )
        assert re.search(r", tau (q0|Om) \d[\d.]{0,3}, resumes", finished), finished
    for path in logs.rglob("*.log"):
        for line in path.read_text().splitlines():
            assert not re.search(r"warn|error|fail|!!", line, re.IGNORECASE), f"{path.name}: {line}"


def test_memory_records_hold_the_estimate(jla_run):
    """Every sampling job's measured peak lies between half its estimate and the estimate."""
    for model in ("janus", "lcdm"):
        base = jla_run / "results/jla" / model
        record = json.loads((base / "resources.json").read_text())
        resources = json.loads((base / "summary.json").read_text())["resources"]
        assert RESOURCE_KEYS <= set(resources)
        for sampler in ("emcee", "dynesty"):
            memory = json.loads((base / sampler / "memory.json").read_text())
            assert memory["estimate_mb"] == record[sampler]["mem_mb"] == resources[sampler]["mem_mb_estimate"]
            assert len(memory["series"]) >= 2 and memory["duration_s"] > 0
            job = resources[sampler]
            assert job["peak_rss_mb"] == max(memory["peak_rss_mb"], memory["process_maxrss_mb"])
            assert job["mem_mb_estimate"] / 2 <= job["peak_rss_mb"] <= job["mem_mb_estimate"]
            # The job's whole wall time, its start included, as the estimate counts it.
            assert job["runtime_min"] == pytest.approx(memory["job_wall_s"] / 60, abs=1e-3)
            assert memory["job_wall_s"] > memory["duration_s"]
            assert job["runtime_estimate_min"] == record[sampler]["runtime_minutes"]
            assert (base / sampler / "memory.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert 0 < resources["peak_rss_mb"] <= resources["mem_mb_estimate"]
        assert resources["peak_rss_mb"] == max(resources[s]["peak_rss_mb"] for s in ("emcee", "dynesty"))
        assert resources["runtime_min"] == pytest.approx(
            resources["emcee"]["runtime_min"] + resources["dynesty"]["runtime_min"], abs=2e-3
        )
    report = (jla_run / "results/report.html").read_text(errors="replace")
    assert "memory of emcee" in report and "pre-flight checks (CSV)" in report


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


def test_exact_cross_check_domain_and_prior_sensitivity(jla_run):
    summaries = {}
    for model in ("janus", "lcdm"):
        base = jla_run / "results/jla" / model
        s = summaries[model] = json.loads((base / "summary.json").read_text())
        evidence = json.loads((base / "dynesty/evidence.json").read_text())
        assert s["quadrature"]["logz"] == pytest.approx(EXACT_LOGZ[model], abs=1e-3)
        assert evidence["quadrature"] == s["quadrature"]
        assert s["cross_check"]["passed"] and evidence["cross_check"]["passed"]
        assert [c["what"] for c in s["cross_check"]["checks"]] == ["dynesty ln Z"] + [
            f"emcee {m} of {p}" for p in s["parameters"] for m in ("mean", "sd")
        ]
        # JLA reaches z = 1.3: JANUS exists for q0 > −1/2.6, a fraction (1/2.6)/0.5 of its prior.
        fraction = (1 / 2.6) / 0.5 if model == "janus" else 1.0
        assert evidence["domain"]["ln_fraction"] == pytest.approx(np.log(fraction), rel=1e-12)
        assert s["dynesty"]["domain"] == evidence["domain"]
        assert evidence["logz"] == pytest.approx(evidence["logz_inside"] + np.log(fraction), abs=1e-12)
        assert s["emcee"]["tau_max"] == max(s["emcee"]["tau"].values())
        # The posteriors lie far inside the halved and doubled priors: ln Z moves by ∓ ln 2 exactly.
        for scale, shift in (("halved", np.log(2)), ("doubled", -np.log(2))):
            assert s["prior_sensitivity"][scale]["logz"] == pytest.approx(s["quadrature"]["logz"] + shift, abs=1e-6)
    (row,) = json.loads((jla_run / "results/jla/comparison.json").read_text())
    exact = summaries["janus"]["quadrature"]["logz"] - summaries["lcdm"]["quadrature"]["logz"]
    assert row["ln_B_exact"] == pytest.approx(exact) and row["exact_cross_check"] == "passed"
    assert row["ln_B_a_prior_halved"] == pytest.approx(exact + np.log(2), abs=1e-6)
    assert row["ln_B_b_prior_halved"] == pytest.approx(exact - np.log(2), abs=1e-6)
    assert row["ln_B_a_prior_doubled"] == pytest.approx(exact - np.log(2), abs=1e-6)
    overview = pd.read_csv(jla_run / "results/overview.csv")
    assert overview["exact cross-check"].tolist() == ["passed", "passed"]
    assert overview["one-sided limits"].tolist() == ["none", "none"]
    assert overview["prior fraction in domain"].tolist() == pytest.approx([round(1 / 1.3, 4), 1.0])
    assert overview["logZ exact"].tolist() == pytest.approx([EXACT_LOGZ["janus"], EXACT_LOGZ["lcdm"]], abs=1e-3)


def _newest_iteration(directory, sampler):
    """emcee: the last committed step; dynesty: the number of the newest generation (+1), 0 if none."""
    ck = directory / "results/checkpoints/jla/lcdm" / sampler
    if sampler == "emcee":
        ends = [int(p.name.split("_")[2].split(".")[0]) for p in (ck / "segments").glob("seg_*.npz")]
        return max(ends, default=0)
    # Old generations are deleted (two are kept), so count by number, not by files.
    numbers = [int(p.stem.split("_")[1]) + 1 for p in (ck / "generations").glob("state_*.pkl")]
    return max(numbers, default=0)


def _interrupt_when_checkpointed(directory, kill, emcee_after, dynesty_after, *args):
    """Start the workflow, wait until both samplers checkpointed past the given marks, then ``kill`` it."""
    proc = start(directory, *args)
    deadline = time.monotonic() + HANG_GUARD_S
    while (
        _newest_iteration(directory, "emcee") < emcee_after or _newest_iteration(directory, "dynesty") <= dynesty_after
    ):
        assert proc.poll() is None, f"workflow ended before it could be interrupted:\n{proc.stderr.read()[-3000:]}"
        assert time.monotonic() < deadline, f"no checkpoint within {HANG_GUARD_S} s"
        time.sleep(0.1)
    kill(proc)
    proc.wait(timeout=HANG_GUARD_S)
    return _newest_iteration(directory, "emcee")


def test_interrupted_run_resumes_from_its_checkpoint(tmp_path, public_data):
    """SIGTERM to the process group, resume, kill -9 of the group, unlock, resume: nothing lost."""
    write_config(
        tmp_path,
        public_data,
        models=["lcdm"],
        cores={"performance": 1, "efficiency": 0},
        emcee={"max_steps": 20000, "checkpoint": {"steps": 200, "seconds": 1}, "stop": {"enabled": False}},
        dynesty={"nlive": 1500, "dlogz": 0.01, "checkpoint_seconds": 1},
    )
    first = _interrupt_when_checkpointed(tmp_path, lambda p: os.killpg(p.pid, signal.SIGTERM), 1000, 0)
    second = _interrupt_when_checkpointed(
        tmp_path,
        lambda p: os.killpg(p.pid, signal.SIGKILL),
        first + 1000,
        _newest_iteration(tmp_path, "dynesty"),
        "--rerun-incomplete",
    )
    run(tmp_path, "--unlock")
    # The time limit only guards against a hung workflow: on a 2-core machine
    # shared with other jobs (load 15) finishing this run took over 15 minutes.
    run(tmp_path, "--rerun-incomplete", timeout=3600)
    s = json.loads((tmp_path / "results/jla/lcdm/summary.json").read_text())
    resumes = s["emcee"]["resumes"]
    assert len(resumes) == 2 and 0 < first <= resumes[0] < resumes[1] <= second
    assert s["emcee"]["n_steps"] == 20000
    assert len(s["dynesty"]["resumes"]) == 2 and 0 < s["dynesty"]["resumes"][0] < s["dynesty"]["resumes"][1]
    assert s["dynesty"]["logz_err"] < 0.1
    assert s["parameters"]["Om"]["mean"] == pytest.approx(0.295, abs=0.01)
    overview = (tmp_path / "results/overview.csv").read_text()
    assert ", ".join(map(str, resumes)) in overview


def test_dynesty_alone_runs_to_parameter_estimates_and_a_report(tmp_path, public_data):
    """``samplers: [dynesty]`` on Union3: before, its summary of JANUS failed (the best fit started at the
    prior's centre q0 = −0.25, outside JANUS's domain on these data: chi2_min inf) and no run had a
    parameter estimate. Now every run has dynesty's, in summary.json, overview.csv and the report."""
    union3 = public_data / "union3"
    dataset = {"kind": "sn", "format": "union3", "path": str(union3 / "lcparam_full.txt")}
    write_config(
        tmp_path,
        public_data,
        datasets={"union3": {**dataset, "cov": str(union3 / "mag_covmat.txt")}},
        run_datasets=["union3"],
        samplers=["dynesty"],
        dynesty={"nlive": 150},
    )
    run(tmp_path)
    results = tmp_path / "results"
    for model, name in (("janus", "q0"), ("lcdm", "Om")):
        summary = json.loads((results / "union3" / model / "summary.json").read_text())
        assert summary["parameters_from"] == "dynesty's weighted samples" and "emcee" not in summary
        assert summary["cross_check"]["passed"] and math.isfinite(summary["chi2_min"])
        assert summary["parameters"][name]["text"]
    om, exact = summary["parameters"]["Om"], summary["quadrature"]["parameters"]["Om"]
    assert om["mean"] == pytest.approx(exact["mean"], abs=0.2 * exact["sd"])
    overview = pd.read_csv(results / "overview.csv")
    assert list(overview["estimates from"]) == ["dynesty's weighted samples"] * 2
    assert "parameter (dynesty&#x27;s weighted samples)" in (results / "overview.html").read_text()
    # The Hubble diagram's band from dynesty's samples: before, no hubble.png without emcee.
    assert imread(results / "union3" / "hubble.png").shape[2] in (3, 4)
