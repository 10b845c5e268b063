"""No silent stale result: every input that changes a result reruns exactly the jobs it affects.

A small complete run (JLA binned, ΛCDM, both samplers, read from the
project's own data/) is computed once. Each scenario copies that finished
project, changes one input (a setting, a download's pin or URL, a local copy
of a download, the final chain, the results directory) and asks Snakemake
what it would rerun (a dry run) or reruns it. Downloads are served from tests/data by
the local server of conftest.py. The scenarios run concurrently.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import pandas as pd
import pytest
import yaml
from snakemake_runner import REPO, Scenarios, outcome, run, write_config
from test_checkpoint_store import assert_same_chain, chain_arrays

import janusfit
from janusfit.atomic import sha256_file
from janusfit.cli import EXIT_INTERRUPTED
from janusfit.data.simulate import write_simulated
from janusfit.models import get_model

BASE = dict(
    models=["lcdm"],
    samplers=["emcee", "dynesty"],
    cores={"performance": 1, "efficiency": 0},
    emcee={"max_steps": 300, "checkpoint": {"steps": 100, "seconds": 60}, "stop": {"enabled": False}},
    dynesty={"nlive": 50, "dlogz": 0.5},
)
JLA = {"kind": "sn", "format": "jla_binned", "path": "data/jla_mub.txt", "cov": "data/jla_mub_covmatrix.txt"}
CHAIN = "results/jla/lcdm/emcee/chain.h5"
OLD = 946684800  # 2000-01-01: a date older than every output, as `cp -p`, `rsync -t` or `tar` restore it


def configure(directory: Path, public_data: Path, datasets: dict | None = None, **sections) -> None:
    write_config(directory, public_data, **{**BASE, **sections, "datasets": {"jla": JLA, **(datasets or {})}})


def snakemake(directory: Path, *args: str, extra_env: dict | None = None) -> subprocess.CompletedProcess:
    return run(directory, *args, timeout=600, check=False, extra_env=extra_env)


def planned(directory: Path, *targets: str, extra_env: dict | None = None) -> dict:
    """The jobs a dry run would run, rule -> count ({} when there is nothing to be done)."""
    proc = snakemake(directory, "--dry-run", *targets, extra_env=extra_env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    if "Nothing to be done" in out:
        return {}
    table = out.split("Job stats:", 1)[1].split("\n\n", 1)[0]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M) if m.group(1) != "total"}


def log(directory: Path, name: str) -> str:
    return (directory / "results/logs" / name).read_text()


@pytest.fixture(scope="module")
def baseline(tmp_path_factory, public_data) -> Path:
    directory = tmp_path_factory.mktemp("baseline")
    (directory / "data").mkdir()
    for name in ("jla_mub.txt", "jla_mub_covmatrix.txt"):
        shutil.copy(public_data / "jla" / name, directory / "data" / name)
    configure(directory, public_data)
    proc = snakemake(directory)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return directory


# Each scenario is ``function(directory, public_data, server)``, run on a copy of the finished project.
SCENARIOS = Scenarios()
scenario = SCENARIOS.add


@pytest.fixture(scope="module")
def outcomes(baseline, public_data, server, tmp_path_factory):
    return SCENARIOS.run(baseline, tmp_path_factory, public_data, server)


# --- item 1: a changed setting reruns exactly the jobs it affects -------------

# Everything made from a run's summary: the overview, the exports (GetDist, ArviZ, the LaTeX table; they also
# read the chains), the report's Hubble diagram and provenance.
DOWNSTREAM_OF_SUMMARY = {
    "summary": 1,
    "overview": 1,
    "export": 1,
    "export_table": 1,
    "hubble": 1,
    "provenance": 1,
    "all": 1,
}
DOWNSTREAM_OF_EMCEE = {"convergence": 1, "corner": 1, **DOWNSTREAM_OF_SUMMARY}
CHANGES = {
    # setting changed: the jobs it reruns. The first case: a prior that
    # excludes the finished run's posterior (Om ≈ 0.3), and nothing reran.
    "prior": (
        dict(priors={"lcdm": {"Om": [0.35, 0.6]}}),
        {"preflight": 1, "emcee": 1, "dynesty": 1, **DOWNSTREAM_OF_EMCEE},
    ),
    "stopping_rule": (
        dict(emcee={**BASE["emcee"], "stop": {"enabled": True, "n_over_tau": 20}}),
        {"emcee": 1, **DOWNSTREAM_OF_EMCEE},
    ),
    "dynesty_seed": (
        dict(dynesty={**BASE["dynesty"], "seed": 7}),
        {"dynesty": 1, "corner": 1, **DOWNSTREAM_OF_SUMMARY},
    ),
    # where dynesty stops: it resumes its checkpoint; emcee and the pre-flight do not rerun
    "dynesty_maxiter": (
        dict(dynesty={**BASE["dynesty"], "maxiter": 1000}),
        {"dynesty": 1, "corner": 1, **DOWNSTREAM_OF_SUMMARY},
    ),
    # nlive is one of the pre-flight's estimates, whose record both samplers read
    "live_points": (
        dict(dynesty={**BASE["dynesty"], "nlive": 60}),
        {"preflight": 1, "emcee": 1, "dynesty": 1, **DOWNSTREAM_OF_EMCEE},
    ),
    # the dynamic sampler runs ten times as long or more: the pre-flight's runtime estimate (a cluster's
    # time limit) is made again; emcee resumes its complete checkpoint
    "dynesty_method": (
        dict(dynesty={**BASE["dynesty"], "method": "dynamic"}),
        {"preflight": 1, "emcee": 1, "dynesty": 1, **DOWNSTREAM_OF_EMCEE},
    ),
    "convergence_threshold": (dict(convergence={"max_rhat": 1.02}), DOWNSTREAM_OF_EMCEE),
    "per_run_override": (
        dict(runs={"jla/lcdm": {"emcee": {"n_walkers": 40}}}),
        {"preflight": 1, "emcee": 1, "dynesty": 1, **DOWNSTREAM_OF_EMCEE},
    ),
    # the measured threads policy (the default) times the likelihood's threads in the pre-flight job, whose
    # rows the report shows and whose record the samplers' threads and summary read; a fixed policy times nothing
    "threads_policy": (
        dict(cores={**BASE["cores"], "heavy": "performance"}),
        {"preflight": 1, "emcee": 1, "dynesty": 1, **DOWNSTREAM_OF_EMCEE},
    ),
    # what dynesty's "auto" runs for one parameter, written out: the same draws
    "dynesty_sample_written_out": (dict(dynesty={**BASE["dynesty"], "sample": "unif"}), {}),
    # where checkpoints are saved changes no result
    "checkpoint_interval": (dict(emcee={**BASE["emcee"], "checkpoint": {"steps": 50, "seconds": 10}}), {}),
}


@scenario
def changed_settings(directory, public_data, server):
    plans = {}
    for name, (sections, _) in CHANGES.items():
        configure(directory, public_data, **sections)
        plans[name] = planned(directory)
    return plans


@pytest.mark.parametrize("name", list(CHANGES))
def test_a_changed_setting_reruns_exactly_the_jobs_it_affects(outcomes, name):
    _, plans = outcome(outcomes, "changed_settings")
    assert plans[name] == CHANGES[name][1]


@scenario
def results_dir_spelled_otherwise(directory, public_data, server):
    """The results directory named another way, with the prior changed: (exit status, output) of each dry run."""
    plans = {}
    for spelling in ("results/", "./results", "results/../results", str(directory / "results")):
        configure(directory, public_data, results_dir=spelling, **CHANGES["prior"][0])
        proc = snakemake(directory, "--dry-run")
        # A dry run writes its errors to stdout.
        output = proc.stdout + proc.stderr
        plans[spelling] = (proc.returncode, output, planned(directory) if proc.returncode == 0 else None)
    return plans


def test_the_results_directory_named_another_way_is_refused(outcomes):
    """The audit's case: with `results_dir: ./results` (or its absolute path) a changed prior planned
    nothing, and the summary kept the old prior: Snakemake keeps each output's params and code under its
    path as written, so no record was found and no change was seen."""
    directory, plans = outcome(outcomes, "results_dir_spelled_otherwise")
    assert plans["results/"][0] == 0 and plans["results/"][2] == CHANGES["prior"][1]
    record = directory / "results" / ".results_dir"
    for spelling in ("./results", "results/../results", str(directory / "results")):
        code, output, _ = plans[spelling]
        assert code != 0 and "Traceback" not in output, spelling
        where = record if spelling.startswith("/") else "results/.results_dir"
        assert (
            "ConfigError in file " in output
            and f"config key 'results_dir': '{spelling}' names the directory whose outputs were made as 'results' "
            f"(recorded in '{where}')"
            in output
        ), output[-2000:]
        assert "write results_dir: results; or, to name it so from now on, delete" in output
    assert record.read_text() == "results\n"


# --- item 5 (a data file changed under an older date reruns) is
# tests/test_bad_inputs.py::test_changed_data_on_resume_lists_both_checksums_and_loses_nothing


def simulated(path: str) -> dict:
    return {"kind": "sn", "format": "simulated", "path": f"{path}.csv", "cov": f"{path}.cov", "n_sn": 50}


@scenario
def simulated_format_files_replaced(directory, public_data, server):
    """The user's own files in the simulated format, replaced by another seed's under an older date; beside
    them, the files the workflow simulates, checksummed by no plan (absent from the first)."""
    configure(
        directory,
        public_data,
        datasets={"sim": simulated("data/sim"), "simulated": simulated("results/data/simulated/hubble")},
    )
    files = [directory / f"data/sim{suffix}" for suffix in (".csv", ".cov", ".truth.json")]
    write_simulated(*files, n_sn=50, seed=1)
    first = snakemake(directory, "results/sim/data.json", "results/simulated/data.json")
    write_simulated(*files, n_sn=50, seed=2)
    for file in files:
        os.utime(file, (OLD, OLD))
    return first, planned(directory, "results/sim/data.json"), planned(directory, "results/simulated/data.json")


def test_a_users_file_in_the_simulated_format_replaced_under_an_older_date_reruns(outcomes):
    _, (first, users, workflows) = outcome(outcomes, "simulated_format_files_replaced")
    assert first.returncode == 0, first.stderr[-3000:]
    assert users == {"inspect_data": 1}
    assert workflows == {}


def configure_simulated(directory: Path, public_data: Path, entry: dict) -> None:
    """The config with a simulated dataset in its own key order: simulate_data's params are the entry, which
    Snakemake compares by its repr, and write_config sorts the keys."""
    configure(directory, public_data)
    config = yaml.safe_load((directory / "config.yaml").read_text())
    config["datasets"]["simulated"] = entry
    (directory / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


@scenario
def simulation_defaults_written_out(directory, public_data, server):
    """config.yaml's simulated dataset with n_sn and seed deleted, then as config.yaml writes them (last), then
    reworded (the audit's case: seed before n_sn, n_sn as a float, an empty columns reran all 21 jobs)."""
    written = yaml.safe_load((REPO / "config/config.yaml").read_text())["datasets"]["simulated"]
    configure_simulated(directory, public_data, {k: v for k, v in written.items() if k not in ("n_sn", "seed")})
    first = snakemake(directory, "results/simulated/data.json")
    configure_simulated(directory, public_data, written)
    plans = [planned(directory, "results/simulated/data.json")]
    location = {k: v for k, v in written.items() if k not in ("n_sn", "seed")}
    configure_simulated(
        directory, public_data, {**location, "seed": written["seed"], "n_sn": float(written["n_sn"]), "columns": {}}
    )
    plans.append(planned(directory, "results/simulated/data.json"))
    return first, plans


def test_a_simulated_datasets_defaults_written_out_or_reworded_rerun_nothing(outcomes):
    _, (first, plans) = outcome(outcomes, "simulation_defaults_written_out")
    assert first.returncode == 0, first.stderr[-3000:]
    assert plans == [{}, {}]


LIGHT_CURVES = {"kind": "sn", "format": "jla_lcparams", "path": "data/jla_lcparams.txt", "pecz": 0}
CSV = {"kind": "sn", "format": "csv", "path": "data/jla_mub.txt", "cov": "data/jla_mub_covmatrix.txt"}
# every reading option at its default (pecz has none)
LIGHT_CURVE_DEFAULTS = {
    "host_mass_split": 10,
    "log_det_cov": False,
    "nuisance_priors": {"alpha": [0, 0.3], "beta": [1.5, 4.5]},
}
WRITTEN_OUT = {"lc": {**LIGHT_CURVES, **LIGHT_CURVE_DEFAULTS}, "csv": {**CSV, "columns": {"z": "z", "mu": "mu"}}}


@scenario
def defaults_written_out(directory, public_data, server):
    """The data read with every option left out, then the config with each written out at its default."""
    shutil.copy(public_data / "jla/jla_lcparams.txt", directory / "data")
    configure(directory, public_data, datasets={"lc": LIGHT_CURVES, "csv": CSV})
    first = snakemake(directory, "results/lc/data.json", "results/csv/data.json")
    configure(directory, public_data, datasets=WRITTEN_OUT)
    return first, planned(directory, "results/lc/data.json", "results/csv/data.json")


def test_an_option_written_out_at_its_default_reruns_nothing(outcomes):
    _, (first, plan) = outcome(outcomes, "defaults_written_out")
    assert first.returncode == 0, first.stderr[-3000:]
    assert plan == {}


# --- the order of the models orients the comparison -------------------------------


@scenario
def models_reordered(directory, public_data, server):
    """A second model added and run, then the two listed the other way round."""
    configure(directory, public_data, models=["lcdm", "wcdm"])
    first = snakemake(directory)
    configure(directory, public_data, models=["wcdm", "lcdm"])
    return first, planned(directory), snakemake(directory)


def test_models_listed_in_another_order_rerun_the_comparison_the_other_way_round(outcomes):
    directory, (first, plan, rerun) = outcome(outcomes, "models_reordered")
    assert first.returncode == 0 and rerun.returncode == 0, (first.stderr + rerun.stderr)[-3000:]
    # hubble draws the models in their order; constraints.tex and the overview show the comparison; the
    # provenance page shows the config's order
    assert plan == {"compare": 1, "export_table": 1, "overview": 1, "hubble": 1, "provenance": 1, "all": 1}
    (row,) = json.loads((directory / "results/jla/comparison.json").read_text())
    assert (row["model_a"], row["model_b"]) == ("wcdm", "lcdm")


@scenario
def models_reordered_without_a_comparison(directory, public_data, server):
    """The same with emcee alone: no comparison, yet the table and the overview list the runs in the models' order."""
    configure(directory, public_data, models=["lcdm", "wcdm"], samplers=["emcee"])
    first = snakemake(directory)
    configure(directory, public_data, models=["wcdm", "lcdm"], samplers=["emcee"])
    return first, planned(directory), snakemake(directory)


def test_models_listed_in_another_order_rerun_the_table_and_the_overview_without_a_comparison(outcomes):
    """The audit's case: only hubble reran, and constraints.tex and the overview kept the old order."""
    directory, (first, plan, rerun) = outcome(outcomes, "models_reordered_without_a_comparison")
    assert first.returncode == 0 and rerun.returncode == 0, (first.stderr + rerun.stderr)[-3000:]
    assert plan == {"export_table": 1, "overview": 1, "hubble": 1, "provenance": 1, "all": 1}
    assert pd.read_csv(directory / "results/overview.csv")["model"].tolist() == ["wcdm", "lcdm"]
    rows = [line.split(" & ")[0] for line in (directory / "results/jla/constraints.tex").read_text().splitlines()]
    names = [get_model(m).latex_name or m for m in ("wcdm", "lcdm")]
    assert [r for r in rows if r in names] == names


# --- janusfit's own source is an input ------------------------------------------


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} is not once in {path}"
    path.write_text(text.replace(old, new))


@scenario
def library_edited(directory, public_data, server):
    """The workflow run with a copy of janusfit on PYTHONPATH: as it is, with a comment and a docstring
    changed, with the report's HTML helpers edited, with the figures' module edited (then put back),
    then with ΛCDM's E(z) edited, and run."""
    library = directory / "lib"
    shutil.copytree(Path(janusfit.__file__).parent, library / "janusfit", ignore=shutil.ignore_patterns("__pycache__"))
    copy = {"PYTHONPATH": str(library)}
    plans = {"copy": planned(directory, extra_env=copy)}
    lcdm = library / "janusfit/models/lcdm.py"
    edit(lcdm, '"""E (or 1/E)', '# why: one pass\n    """E or 1/E')
    plans["comment"] = planned(directory, extra_env=copy)
    edit(library / "janusfit/reporting/html.py", "\nSTYLE = ", "\nEDITED = True\nSTYLE = ")
    plans["report"] = planned(directory, extra_env=copy)
    plots = library / "janusfit/plots.py"
    drawn = plots.read_text()
    edit(plots, "\nEMCEE_COLOUR = ", "\nEDITED = True\nEMCEE_COLOUR = ")
    plans["figures"] = planned(directory, extra_env=copy)
    plots.write_text(drawn)
    edit(lcdm, "1.0 - om[b]", "1.0 - 1.0000001 * om[b]")
    plans["model"] = planned(directory, extra_env=copy)
    return plans, snakemake(directory, "--keep-going", extra_env=copy)


def test_an_edit_of_janusfits_code_reruns_the_jobs_that_import_it_and_refuses_the_checkpoints(outcomes):
    directory, (plans, rerun) = outcome(outcomes, "library_edited")
    # The same source elsewhere, its comments and docstrings: no result changes.
    assert plans["copy"] == plans["comment"] == {}
    assert plans["report"] == {"hubble": 1, "overview": 1, "provenance": 1, "all": 1}
    # A figure's code: the jobs that draw and what reads them, never the inspection nor the samplers.
    assert plans["figures"] == {"data_figure": 1, **DOWNSTREAM_OF_EMCEE}
    assert plans["model"] == {"preflight": 1, "emcee": 1, "dynesty": 1, **DOWNSTREAM_OF_EMCEE}
    assert rerun.returncode != 0
    for sampler in ("emcee", "dynesty"):
        message = log(directory, f"{sampler}/jla/lcdm.log")
        assert "was made with different inputs:\n  code.janusfit.models.lcdm: '" in message
    assert not (directory / CHAIN).exists()


@scenario
def data_edited_then_put_back(directory, public_data, server):
    """The data edited (one distance modulus 0.01 mag brighter) and the workflow run: its samplers refuse
    their checkpoints, made from the old data. Then the data put back and the workflow run again."""
    data = directory / "data/jla_mub.txt"
    original = data.read_text()
    edit(data, "0.010,32.953886976", "0.010,32.963886976")
    before = {name: exported(directory / "results" / name) for name in EXPORTS}
    stopped = snakemake(directory, "--keep-going")
    marked = {page: (directory / "results" / page).read_text() for page in PAGES}
    after = {
        name: (exported(directory / "results" / name), exported(directory / f"results/{name}.earlier"))
        for name in EXPORTS
    }
    refusal = log(directory, "emcee/jla/lcdm.log")
    data.write_text(original)
    finished = snakemake(directory)
    pages = {page: (directory / "results" / page).read_text() for page in PAGES}
    return (
        stopped,
        refusal,
        marked,
        finished,
        pages,
        (before, after, {name: exported(directory / "results" / name) for name in EXPORTS}),
    )


PAGES = ("overview.html", "report.html")
# What users open in their own tools, made from the run's samples.
EXPORTS = ("jla/lcdm/summary.json", "jla/lcdm/export", "jla/constraints.tex")


def exported(path: Path) -> bytes | dict | None:
    """A file's bytes, a directory's as name -> bytes of each file; None where there is nothing."""
    if path.is_dir():
        return {f.name: f.read_bytes() for f in sorted(path.iterdir())}
    return path.read_bytes() if path.exists() else None


def test_pages_of_results_a_stopped_rerun_removed_are_marked_until_the_workflow_finishes(outcomes):
    """The audit's case: after the refused rerun, overview.html and report.html showed the old data's numbers,
    unmarked, beside a run whose chain Snakemake had removed."""
    directory, (stopped, refusal, marked, finished, pages, _) = outcome(outcomes, "data_edited_then_put_back")
    assert stopped.returncode != 0 and "was made with different inputs" in refusal
    assert "report.html show earlier results of jla/lcdm, no longer done" in stopped.stderr
    for page, text in marked.items():
        banner = text.split('<div id="janusfit-stale"', 1)[1].split("</div>", 1)[0]
        assert (
            "Earlier results." in banner
            and "what it shows of jla/lcdm is from before the inputs last changed" in banner
        ), page
        assert text.index('<div id="janusfit-stale"') > text.lower().index("<body"), page
    # The data put back: the samplers resume their checkpoints, and the pages are written afresh.
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert all("janusfit-stale" not in text for text in pages.values())


def test_exports_of_results_a_stopped_rerun_removed_are_moved_aside_until_the_workflow_remakes_them(outcomes):
    """The run's summary, its GetDist and ArviZ files and the LaTeX table kept the old data's numbers, unmarked,
    in their places: read by the user's tools as current. Moved aside, they are neither read as current nor lost."""
    directory, (stopped, _, _, finished, _, (before, after, remade)) = outcome(outcomes, "data_edited_then_put_back")
    assert stopped.returncode != 0
    for name in EXPORTS:
        assert before[name], name
        assert after[name] == (None, before[name]), name
        assert f"results/{name}.earlier" in stopped.stderr
    assert "made from results that are no longer current, moved aside (renamed *.earlier)" in stopped.stderr
    # The data put back: the workflow remakes them in place, from the resumed checkpoints.
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert all(remade[name] for name in EXPORTS)
    assert json.loads(remade["jla/lcdm/summary.json"])["dataset"] == "jla"


@scenario
def data_made_unreadable(directory, public_data, server):
    """A value of the data file edited into text: the data's reading fails, the workflow's first job."""
    edit(directory / "data/jla_mub.txt", "0.012,33.8790034661", "0.012,abc")
    stopped = snakemake(directory)
    status = subprocess.run(
        [sys.executable, "-m", "janusfit.cli", "status", str(directory / "results")], capture_output=True, text=True
    )
    return stopped, status, {page: (directory / "results" / page).read_text() for page in PAGES}


def test_pages_of_data_whose_reading_failed_are_marked_and_the_runs_not_done(outcomes):
    """Snakemake removed data.json of the failed reading, and the runs, found by their checkpoints, were
    'done' to ``janusfit status`` and unmarked on the pages, which showed the data as they were."""
    directory, (stopped, status, pages) = outcome(outcomes, "data_made_unreadable")
    assert stopped.returncode != 0 and "data row 2, column 'mu': 'abc' is not a number" in stopped.stderr
    assert "report.html show earlier results of jla/lcdm, no longer done" in stopped.stderr
    assert all('<div id="janusfit-stale"' in text for text in pages.values())
    assert status.returncode == EXIT_INTERRUPTED, status.stderr
    assert re.search(r"^jla/lcdm +interrupted ", status.stdout, re.M), status.stdout
    assert "The data of jla are not read: jla/data.json is missing, their reading failed" in status.stdout


# --- item 9: a damaged final chain is rebuilt from the checkpoint --------------


@scenario
def final_chain_cut_short(directory, public_data, server):
    chain = directory / CHAIN
    chain.write_bytes(chain.read_bytes()[: chain.stat().st_size // 2])
    return snakemake(directory)


def test_a_final_chain_cut_short_is_named_and_rebuilt_from_the_checkpoint(outcomes, baseline):
    directory, proc = outcome(outcomes, "final_chain_cut_short")
    assert proc.returncode == 0, proc.stderr[-3000:]
    (damaged,) = (directory / CHAIN).parent.glob("chain.h5.damaged-*")
    assert (
        f"janusfit: the final chain '{CHAIN}' cannot be read (" in proc.stderr
        and f"it was moved to '{damaged.relative_to(directory)}', and the emcee job rebuilds it from its "
        "checkpoint segments"
        in proc.stderr
    )
    assert_same_chain(chain_arrays(directory / CHAIN), chain_arrays(baseline / CHAIN))
    assert json.loads((directory / "results/jla/lcdm/emcee/run.json").read_text())["resumes"] == [300]


SAMPLES = "results/jla/lcdm/dynesty/samples.h5"


@scenario
def final_samples_cut_short(directory, public_data, server):
    samples = directory / SAMPLES
    samples.write_bytes(samples.read_bytes()[: samples.stat().st_size // 2])
    return snakemake(directory)


def test_final_samples_cut_short_are_named_and_written_again_from_the_checkpoint(outcomes, baseline):
    """The audit's case: status said done, and the corner and export jobs failed with an OSError traceback."""
    directory, proc = outcome(outcomes, "final_samples_cut_short")
    assert proc.returncode == 0, proc.stderr[-3000:]
    (damaged,) = (directory / SAMPLES).parent.glob("samples.h5.damaged-*")
    assert (
        f"janusfit: the final samples '{SAMPLES}' cannot be read (" in proc.stderr
        and f"it was moved to '{damaged.relative_to(directory)}', and the dynesty job writes them again from its "
        "checkpoint"
        in proc.stderr
    )
    with h5py.File(directory / SAMPLES) as again, h5py.File(baseline / SAMPLES) as first:
        assert sorted(again) == sorted(first) and dict(again.attrs) == pytest.approx(dict(first.attrs))
        for key in first:
            assert again[key][:].tobytes() == first[key][:].tobytes(), key


# --- item 8: each config has its own results -----------------------------------


@scenario
def second_config(directory, public_data, server):
    configure(directory, public_data, results_dir="results/other", models=["lcdm", "wcdm"])
    return snakemake(directory, "--dry-run")


def test_a_second_config_writes_under_its_own_results_dir(outcomes):
    directory, proc = outcome(outcomes, "second_config")
    assert proc.returncode == 0, proc.stderr[-3000:]
    outputs = re.findall(r"^\s+output: (.*)$", proc.stdout + proc.stderr, re.M)
    files = [f for line in outputs for f in line.split(", ")]
    assert "results/other/overview.csv" in files and "results/other/jla/wcdm/summary.json" in files
    assert all(f.startswith("results/other/") for f in files), [f for f in files if not f.startswith("results/other/")]


# --- items 6 and 7: downloads are never lost, local copies never downloaded over


def download_spec(server: str, public_data: Path, **override) -> dict:
    return {
        "kind": "sn",
        "format": "jla_binned",
        "url": f"{server}/jla/jla_mub.txt",
        "sha256": sha256_file(public_data / "jla/jla_mub.txt"),
        "cov_url": f"{server}/jla/jla_mub_covmatrix.txt",
        "cov_sha256": sha256_file(public_data / "jla/jla_mub_covmatrix.txt"),
        **override,
    }


@scenario
def download_pin_changed(directory, public_data, server):
    """A download into ``downloads/`` (absent, so fetched); then a wrong pin; then a mirror of the same file."""
    spec = download_spec(server, public_data, path="downloads/jla_mub.txt", cov="downloads/jla_mub_covmatrix.txt")
    configure(directory, public_data, datasets={"jla_dl": spec})
    first = snakemake(directory, "results/jla_dl/data.json")
    configure(directory, public_data, datasets={"jla_dl": {**spec, "sha256": "0" * 64}})
    wrong_pin = snakemake(directory, "results/jla_dl/data.json")
    verified = [
        p
        for root in ("downloads", "resources")
        for p in sorted((directory / root).rglob("*"))
        if p.is_file() and p.read_bytes() == (public_data / "jla/jla_mub.txt").read_bytes()
    ]
    configure(directory, public_data, datasets={"jla_dl": {**spec, "url": "http://127.0.0.1:9/mirror/jla_mub.txt"}})
    return first, wrong_pin, verified, planned(directory, "results/jla_dl/data.json")


def test_a_changed_pin_downloads_elsewhere_and_the_verified_download_stays(outcomes, public_data, server):
    directory, (first, wrong_pin, verified, mirror) = outcome(outcomes, "download_pin_changed")
    assert first.returncode == 0, first.stderr[-3000:]
    assert wrong_pin.returncode != 0
    # The case: Snakemake removed the verified file before the new download was refused.
    cached = directory / "resources/data" / sha256_file(public_data / "jla/jla_mub.txt") / "jla_mub.txt"
    assert verified == [cached]
    assert (
        f"downloading {server}/jla/jla_mub.txt -> resources/data/{'0' * 64}/jla_mub.txt (pinned sha256 "
        f"{'0' * 64})" in log(directory, f"download/resources/data/{'0' * 64}/jla_mub.txt.log")
    )
    assert not (directory / "resources/data" / ("0" * 64)).exists()
    # The same file at a mirror: the verified download is the file; nothing to fetch or rerun.
    assert mirror == {}


@scenario
def local_copies_with_urls(directory, public_data, server):
    """An overlay of a public config pointing at local copies dated 2000: first keeping the URLs, then url: null."""
    local = directory / "offline"
    local.mkdir()
    for name in ("jla_mub.txt", "jla_mub_covmatrix.txt"):
        shutil.copy(public_data / "jla" / name, local / name)
        os.utime(local / name, (OLD, OLD))
    before = {p.name: p.read_bytes() for p in local.iterdir()}
    spec = download_spec(
        "http://127.0.0.1:9", public_data, path="offline/jla_mub.txt", cov="offline/jla_mub_covmatrix.txt"
    )
    configure(directory, public_data, datasets={"local": spec})
    kept = snakemake(directory, "results/local/data.json")
    after_kept = {p.name: p.read_bytes() for p in local.iterdir()}
    configure(directory, public_data, datasets={"local": {**spec, "url": None, "cov_url": None}})
    nulled = snakemake(directory, "results/local/data.json", "--forcerun", "inspect_data")
    return before, kept, after_kept, nulled


def test_local_copies_are_read_in_place_and_never_downloaded_over(outcomes):
    directory, (before, kept, after_kept, nulled) = outcome(outcomes, "local_copies_with_urls")
    assert kept.returncode == 0, kept.stderr[-3000:]
    assert "rule download" not in kept.stdout + kept.stderr
    assert after_kept == before
    assert nulled.returncode == 0, nulled.stderr[-3000:]
    assert {p.name: p.read_bytes() for p in (directory / "offline").iterdir()} == before
    data = json.loads((directory / "results/local/data.json").read_text())["members"][0]
    assert data["files"] == {
        "path": str(directory / "offline/jla_mub.txt"),
        "cov": str(directory / "offline/jla_mub_covmatrix.txt"),
    }
    assert data["n"] == 31


def test_another_order_of_the_models_remakes_the_provenance_page(jla_run, tmp_path):
    """The audit's case: models: [lcdm, janus] turned the comparison round, and provenance.html kept its old
    "Config as run" (models: [janus, lcdm]) and the old order of its tables."""
    directory = tmp_path / "run"
    shutil.copytree(jla_run, directory, symlinks=True)
    config = yaml.safe_load((directory / "config.yaml").read_text())
    config["models"] = config["models"][::-1]
    (directory / "config.yaml").write_text(yaml.safe_dump(config))
    assert planned(directory) == {
        "compare": 1,
        "hubble": 1,
        "export_table": 1,
        "overview": 1,
        "provenance": 1,
        "all": 1,
    }
