"""Bad inputs through the real workflow: each gives its own message, and nothing computed is lost.

A tiny run (JLA binned, ΛCDM, emcee only) is computed once. Each scenario
copies that finished project, introduces bad input and reruns Snakemake.
Errors found while Snakemake parses the config must be in its stderr; errors
found by a job must be in that job's log under results/logs/. Either way the
earlier checkpoint and outputs must survive. docs/bad-inputs.md lists the rows.

Each Snakemake start costs seconds of imports, so the scenarios run
concurrently (fixture ``outcomes``), and the bad inputs that fail inside jobs
share one ``--keep-going`` rerun, one dataset or model per bad input.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest
from snakemake_runner import Scenarios, command, env, outcome, write_config
from test_checkpoint_store import assert_same_chain, chain_arrays, jla_diagonal, run_emcee_in

from janusfit import __version__
from janusfit.atomic import sha256_file
from janusfit.data import load_dataset
from janusfit.likelihood import Posterior
from janusfit.models import get_model

RUN_JSON = "results/jla/lcdm/emcee/run.json"
CHAIN = "results/jla/lcdm/emcee/chain.h5"
CHECKPOINT = "results/checkpoints/jla/lcdm/emcee"
DATA_JSON = "results/jla/data.json"
BASE = dict(
    models=["lcdm"],
    samplers=["emcee"],
    cores={"performance": 1, "efficiency": 0},
    emcee={"max_steps": 300, "checkpoint": {"steps": 100, "seconds": 5}, "stop": {"enabled": False}},
)


def jla_spec(**override) -> dict:
    return {
        "kind": "sn",
        "format": "jla_binned",
        "path": "data/jla_mub.txt",
        "cov": "data/jla_mub_covmatrix.txt",
        **override,
    }


def configure(directory: Path, public_data: Path, datasets: dict | None = None, **sections) -> None:
    """BASE with ``sections`` over it; datasets: jla (read from the project's data/) and ``datasets``."""
    write_config(directory, public_data, **{**BASE, **sections, "datasets": {"jla": jla_spec(), **(datasets or {})}})


def snakemake(directory: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(command(directory, *args), capture_output=True, text=True, timeout=600, env=env())


def snapshot(directory: Path) -> dict:
    """Bytes of the checkpoint and of the outputs a rerun must not lose."""
    paths = [
        *sorted((directory / CHECKPOINT).rglob("*")),
        directory / CHAIN,
        directory / RUN_JSON,
        directory / DATA_JSON,
    ]
    return {str(p.relative_to(directory)): p.read_bytes() for p in paths if p.is_file()}


def assert_nothing_lost(directory: Path, before: dict, rerun_data: bool = False) -> None:
    """The checkpoint and the sampler's outputs are as they were (data.json too, unless its job reran)."""
    now = snapshot(directory)
    for key, content in before.items():
        if key == DATA_JSON and rerun_data:
            continue  # Snakemake removes a job's outputs before rerunning it
        assert now.get(key) == content, f"{key} was deleted or changed"


def log(directory: Path, name: str) -> str:
    return (directory / "results/logs" / name).read_text()


def edit_lines(source: Path, dest: Path, edit) -> None:
    dest.write_text("\n".join(edit(source.read_text().splitlines())) + "\n")


def set_cell(row: int, column: int, value: str):
    """An edit setting ``column`` of the CSV's data ``row`` (1-based, after the header) to ``value``."""

    def edit(lines):
        cells = lines[row].split(",")
        cells[column] = value
        return [*lines[:row], ",".join(cells), *lines[row + 1 :]]

    return edit


def write_jla_csv(path: Path) -> None:
    """JLA binned as a CSV with every column a fit can read (zhel = z, σ from the covariance) and a host name."""
    data = load_dataset("jla", jla_spec(), path.parent.parent)
    rows = [
        f"{z:.17g},{z:.17g},{mu:.17g},{s:.17g},host {i}"
        for i, (z, mu, s) in enumerate(zip(data.z, data.values, np.sqrt(np.diag(data.cov))))
    ]
    path.write_text("z,zhel,mu,sigma,host\n" + "\n".join(rows) + "\n")


# --- the finished project, a data server, and the scenarios run concurrently --


@pytest.fixture(scope="module")
def baseline(tmp_path_factory, public_data) -> tuple[Path, dict]:
    directory = tmp_path_factory.mktemp("baseline")
    (directory / "data").mkdir()
    for name in ("jla_mub.txt", "jla_mub_covmatrix.txt"):
        shutil.copy(public_data / "jla" / name, directory / "data" / name)
    write_jla_csv(directory / "data" / "jla.csv")
    configure(directory, public_data)
    proc = snakemake(directory, RUN_JSON)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return directory, snapshot(directory)


# Each scenario is ``function(directory, public_data, server)``, run on a copy of the finished project.
SCENARIOS = Scenarios()
scenario = SCENARIOS.add


@pytest.fixture(scope="module")
def outcomes(baseline, public_data, server, tmp_path_factory):
    """Every scenario, run concurrently on its own copy of the finished project: name -> (directory, result)."""
    return SCENARIOS.run(baseline[0], tmp_path_factory, public_data, server)


# --- detected while Snakemake parses the config: the message is in its stderr --

# Errors found while parsing need no file: the cosmic chronometers are named, never read.
JLA_CC = {"cc": {"kind": "hz", "format": "hz_table", "path": "data/cc.txt"}, "jla_cc": {"combine": ["jla", "cc"]}}

CONFIG_ERRORS = {
    "unknown_model": (
        dict(models=["lcdm", "nosuch"]),
        "config key 'models[1]': unknown model 'nosuch'; known models: janus, lcdm, olcdm, wcdm",
    ),
    "unknown_dataset": (
        dict(run_datasets=["jla", "nosuch"]),
        "config key 'run_datasets[1]': unknown dataset 'nosuch'; declared: jla",
    ),
    "unknown_dataset_in_combine": (
        dict(datasets={"both": {"combine": ["jla", "nosuch"]}}),
        "config key 'datasets.both.combine[1]': 'nosuch' is not a plain dataset declared under 'datasets'",
    ),
    "prior_low_not_below_high": (
        dict(priors={"lcdm": {"Om": [0.5, 0.5]}}),
        "config key 'priors.lcdm.Om': lower bound 0.5 must be below upper bound 0.5",
    ),
    "prior_not_finite": (
        dict(priors={"lcdm": {"Om": [0.01, float("inf")]}}),
        "config key 'priors.lcdm.Om': bounds must be finite numbers, got [0.01, inf]",
    ),
    "too_few_walkers": (
        dict(models=["wcdm"], datasets=JLA_CC, run_datasets=["jla", "jla_cc"], emcee={**BASE["emcee"], "n_walkers": 4}),
        "config key 'emcee.n_walkers': 4 walkers for run jla_cc/wcdm with 3 parameters; emcee needs an even number ≥ 6",
    ),
    "walkers_below_every_move_minimum": (
        dict(emcee={**BASE["emcee"], "n_walkers": 2}),
        "config key 'emcee.n_walkers': 2 is less than the minimum of 4",
    ),
    "seed_beyond_numpy": (
        dict(emcee={**BASE["emcee"], "seed": 2**32}),
        "config key 'emcee.seed': 4294967296 is greater than the maximum of 4294967295",
    ),
    "too_few_live_points": (
        dict(samplers=["dynesty"], datasets=JLA_CC, run_datasets=["jla_cc"], dynesty={"nlive": 4}),
        "config key 'dynesty.nlive': 4 live points for run jla_cc/lcdm with 2 parameters; "
        "dynesty needs more than twice as many live points as parameters, and 4 or more: at least 5",
    ),
    # The audit's case: accepted, then dynesty's bootstrap failed with a ValueError traceback in 12 of 40 seeds.
    "three_live_points_for_one_parameter": (
        dict(samplers=["dynesty"], dynesty={"nlive": 3}),
        "config key 'dynesty.nlive': 3 is less than the minimum of 4",
    ),
    "maxiter_with_dynamic_sampler": (
        dict(samplers=["dynesty"], dynesty={"method": "dynamic", "maxiter": 1000}),
        "config key 'dynesty.maxiter': a limit on iterations (1000) works only with the static sampler, not with "
        "method: dynamic; remove maxiter or set 'dynesty.method: static'",
    ),
    "dataset_without_kind": (
        dict(datasets={"jla": {k: v for k, v in jla_spec().items() if k != "kind"}}),
        "config key 'datasets.jla.kind': is required: a dataset needs 'kind', 'format' and "
        "'path' (or 'url'), or 'combine'",
    ),
    "model_listed_twice": (
        dict(models=["lcdm", "lcdm"]),
        "config key 'models': ['lcdm', 'lcdm'] has non-unique elements",
    ),
    "run_override_of_the_wrong_type": (
        dict(runs={"jla/lcdm": {"emcee": {"max_steps": "lots"}}}),
        "config key 'runs.jla/lcdm.emcee.max_steps': 'lots' is not of type 'integer'",
    ),
    "run_override_of_another_models_priors": (
        dict(models=["janus", "lcdm"], runs={"jla/janus": {"priors": {"lcdm": {"Om": [0.1, 0.5]}}}}),
        "config key 'runs.jla/janus.priors.lcdm': run jla/janus fits model 'janus', so priors of 'lcdm' here "
        "change nothing; write them under runs.jla/janus.priors.janus, or under priors.lcdm for every run of 'lcdm'",
    ),
    "download_not_pinned": (
        dict(
            datasets={
                "dl": {
                    "kind": "sn",
                    "format": "jla_binned",
                    "url": "http://127.0.0.1:9/a.txt",
                    "cov": "data/jla_mub_covmatrix.txt",
                }
            }
        ),
        "config key 'datasets.dl.sha256': is required with 'url': a download is pinned by the sha256 of its bytes",
    ),
    "dataset_combined_with_itself": (
        dict(datasets={"twice": {"combine": ["jla", "jla"]}}),
        "config key 'datasets.twice.combine[1]': 'jla' is already combine[0]; a dataset "
        "combined with itself counts every point twice and shrinks the errors by √2",
    ),
    "light_curve_nuisance_prior_low_not_below_high": (
        dict(
            datasets={
                "jla740": {
                    "kind": "sn",
                    "format": "jla_lcparams",
                    "path": "data/jla_lcparams.txt",
                    "nuisance_priors": {"beta": [3.0, 2.0]},
                }
            },
            run_datasets=["jla740"],
        ),
        "config key 'datasets.jla740.nuisance_priors.beta': lower bound 3.0 must be below upper bound 2.0",
    ),
    "light_curve_table_without_pecz": (
        dict(
            datasets={"jla740": {"kind": "sn", "format": "jla_lcparams", "path": "data/jla_lcparams.txt"}},
            run_datasets=["jla740"],
        ),
        "config key 'datasets.jla740.pecz': is required for format 'jla_lcparams': the peculiar-velocity "
        "dispersion (in units of c) that the table's dmb does not already hold",
    ),
    "light_curve_option_on_another_format": (
        dict(datasets={"jla": {**jla_spec(), "pecz": 0.001}}),
        "config key 'datasets.jla.pecz': applies to format 'jla_lcparams' only, not 'jla_binned'",
    ),
    # The audit's cases: the first was found by the convergence job, after all the sampling; the
    # second (Cobaya's R − 1) was accepted, and no run could ever pass it.
    "acceptance_range_reversed": (
        dict(convergence={"acceptance": [0.5, 0.2]}),
        "config key 'convergence.acceptance': needs 0 <= low < high <= 1, got [0.5, 0.2]",
    ),
    "kind_not_the_formats": (  # the audit's case: found by the inspect_data job only
        dict(datasets={"jla": jla_spec(), "cc": {"kind": "sn", "format": "hz_table", "path": "data/cc.txt"}}),
        "config key 'datasets.cc.kind': format 'hz_table' holds 'hz' data, not 'sn'",
    ),
    # The audit's case: '..' wrote data.json, data.png and the runs' directories outside results_dir.
    "dataset_named_dot_dot": (
        dict(datasets={"..": jla_spec()}),
        "config key 'datasets': '..' does not match '^[A-Za-z0-9_+-][A-Za-z0-9_.+-]*$'",
    ),
    # The audit's case: a NotADirectoryError traceback from Snakemake's inventory of the outputs.
    "results_dir_is_a_file": (
        dict(results_dir="data/jla_mub.txt"),
        "config key 'results_dir': 'data/jla_mub.txt' is a file: results_dir is the directory the results, logs "
        "and checkpoints are written under",
    ),
    # The second audit's case: refused by inspect_data only, whose failure took data.json with it, so that
    # every job of the dataset reran once the key was mended.
    "columns_of_a_fixed_format": (
        dict(datasets={"jla": jla_spec(columns={"z": "zcmb"})}),
        "config key 'datasets.jla.columns': format 'jla_binned' has fixed columns; 'columns' applies to format "
        "'csv' only",
    ),
    # The audit's case: an empty list ran every declared dataset.
    "run_datasets_empty": (
        dict(run_datasets=[]),
        "config key 'run_datasets': [] should be non-empty",
    ),
    "max_rhat_not_above_1": (
        dict(convergence={"max_rhat": 0.01}),
        "config key 'convergence.max_rhat': 0.01 is less than or equal to the minimum of 1",
    ),
}


def config_error_scenario(sections):
    def run(directory, public_data, server):
        configure(directory, public_data, **sections)
        return snakemake(directory, RUN_JSON)

    return run


SCENARIOS.update({name: config_error_scenario(sections) for name, (sections, _) in CONFIG_ERRORS.items()})


@pytest.mark.parametrize("name", list(CONFIG_ERRORS))
def test_config_error_is_in_snakemake_stderr(outcomes, baseline, name):
    directory, proc = outcome(outcomes, name)
    assert proc.returncode != 0
    assert "ConfigError in file" in proc.stderr and CONFIG_ERRORS[name][1] in proc.stderr
    assert_nothing_lost(directory, baseline[1])


@scenario
def data_file_missing(directory, public_data, server):
    configure(directory, public_data, datasets={"jla2": jla_spec(path="data/nosuch.txt")})
    return snakemake(directory, "results/jla2/data.json")


def test_missing_data_file_is_named_in_snakemake_stderr(outcomes, baseline):
    directory, proc = outcome(outcomes, "data_file_missing")
    assert proc.returncode != 0
    assert re.search(
        r"MissingInputException in rule inspect_data .*\nMissing input files for rule inspect_data:"
        r"(.|\n)*affected files:\n\s+data/nosuch\.txt",
        proc.stderr,
    )
    assert_nothing_lost(directory, baseline[1])


# --- detected by a job: the message is in the job's log ----------------------


def csv_spec(path: str) -> dict:
    return {"kind": "sn", "format": "csv", "path": path}


class BadFile(NamedTuple):
    """A bad copy of ``original`` read as ``key`` of a dataset ``spec``, and its message in the inspect_data log."""

    key: str
    original: str
    edit: Callable
    message: str
    spec: Callable = jla_spec


BAD_FILES = {
    "jla_empty": BadFile(
        "path",
        "jla_mub.txt",
        lambda lines: [],
        "data/jla_empty.txt': no header line naming the columns (the file is empty",
    ),
    "jla_nan": BadFile(
        "path",
        "jla_mub.txt",
        set_cell(3, 1, "nan"),
        "data/jla_nan.txt': data row 3, column 'mu': value is missing or NaN",
    ),
    "jla_z0": BadFile(
        "path",
        "jla_mub.txt",
        set_cell(1, 0, "0.0"),
        "data/jla_z0.txt': data row 1, column 'z': redshift must be > 0, got 0",
    ),
    "jla_not_pd": BadFile(
        "cov",
        "jla_mub_covmatrix.txt",
        lambda lines: [lines[0], "-0.02", *lines[2:]],
        "data/jla_not_pd.txt': covariance is not positive definite (smallest eigenvalue -",
    ),
    "jla_cov_size": BadFile(
        "cov",
        "jla_mub_covmatrix.txt",
        lambda lines: [lines[0], *(v for i, v in enumerate(lines[1:]) if i // 31 < 30 and i % 31 < 30)],
        "data/jla_cov_size.txt': covariance is 30x30 but the data file has 31 rows",
    ),
    "csv_zhel": BadFile(
        "path",
        "jla.csv",
        set_cell(2, 1, "-0.5"),
        "data/csv_zhel.txt': data row 2, column 'zhel': heliocentric redshift -0.5 differs from the "
        "redshift 0.012 by more than 0.01 (1 + z)",
        csv_spec,
    ),
}


@scenario
def bad_data_and_priors(directory, public_data, server):
    """Each job-time bad input in its own dataset or model, in one ``--keep-going`` rerun."""
    datasets = {}
    for name, bad in BAD_FILES.items():
        edit_lines(directory / "data" / bad.original, directory / "data" / f"{name}.txt", bad.edit)
        datasets[name] = bad.spec(**{bad.key: f"data/{name}.txt"})
    datasets["jla_download"] = jla_spec(path="downloads/jla_mub.txt", url=f"{server}/jla/jla_mub.txt", sha256="0" * 64)
    # A local copy that is not the pinned file.
    edit_lines(directory / "data/jla_mub.txt", directory / "data/jla_pinned.txt", set_cell(3, 1, "33.9"))
    datasets["jla_pinned"] = jla_spec(path="data/jla_pinned.txt", sha256=sha256_file(directory / "data/jla_mub.txt"))
    # The same numbers under a second name, fitted jointly with the first.
    shutil.copy(directory / "data/jla_mub.txt", directory / "data/jla_copy.txt")
    datasets["jla_copy"] = jla_spec(path="data/jla_copy.txt")
    datasets["jla_twice"] = {"combine": ["jla", "jla_copy"]}
    # Two supernovae for one parameter and the marginalised offset: no information left.
    edit_lines(directory / "data/jla.csv", directory / "data/csv_two.txt", lambda lines: lines[:3])
    datasets["csv_two"] = csv_spec("data/csv_two.txt")
    configure(
        directory,
        public_data,
        datasets=datasets,
        models=["lcdm", "janus", "wcdm"],
        priors={"janus": {"q0": [-0.5, -0.45]}, "wcdm": {"Om": [1.5, 2.0], "w": [0.5, 1.0]}},
    )
    targets = [f"results/{name}/data.json" for name in datasets if name != "csv_two"] + [
        "results/jla/janus/emcee/run.json",
        "results/jla/janus/dynesty/evidence.json",
        "results/jla/wcdm/emcee/run.json",
        "results/csv_two/lcdm/emcee/run.json",
    ]
    return snakemake(directory, "--keep-going", *targets)


@pytest.mark.parametrize("name", list(BAD_FILES))
def test_bad_data_file_is_named_in_the_inspect_data_log(outcomes, baseline, name):
    directory, proc = outcome(outcomes, "bad_data_and_priors")
    assert "Error in rule inspect_data" in proc.stderr
    assert f"ERROR data file '{directory}/{BAD_FILES[name].message}" in log(directory, f"inspect_data/{name}.log")
    assert not (directory / f"results/{name}/data.json").exists()
    assert_nothing_lost(directory, baseline[1])


def test_a_local_file_that_is_not_the_pinned_one_is_refused_and_left_alone(outcomes, baseline):
    directory, _ = outcome(outcomes, "bad_data_and_priors")
    path = directory / "data/jla_pinned.txt"
    pin = sha256_file(directory / "data/jla_mub.txt")
    assert (
        f"ERROR data file '{path}': has sha256 {sha256_file(path)}, but 'datasets.jla_pinned.sha256' pins {pin}; "
        "the file was left as it is. Point 'path' at the pinned file, or set 'sha256: null' to read this one "
        "unpinned" in log(directory, "inspect_data/jla_pinned.log")
    )
    assert_nothing_lost(directory, baseline[1])


def test_datasets_holding_the_same_numbers_are_not_combined(outcomes, baseline):
    directory, _ = outcome(outcomes, "bad_data_and_priors")
    assert (
        "ERROR config key 'datasets.jla_twice.combine': 'jla' and 'jla_copy' hold the same 31 redshifts and "
        "values: combining them counts every point twice and shrinks the errors by √2"
        in log(directory, "inspect_data/jla_twice.log")
    )
    assert not (directory / "results/jla_twice/data.json").exists()
    assert_nothing_lost(directory, baseline[1])


def test_too_few_data_points_for_the_run_are_refused_by_preflight(outcomes, baseline):
    directory, _ = outcome(outcomes, "bad_data_and_priors")
    assert (
        "ERROR config key 'datasets.csv_two': run csv_two/lcdm has 2 data points, too few for its 1 free "
        "parameter and 1 marginalised supernova offset: it needs at least 3; add data or leave the dataset out "
        "of 'run_datasets'" in log(directory, "preflight/csv_two/lcdm.log")
    )
    assert not (directory / "results/csv_two/lcdm/emcee").exists()
    assert_nothing_lost(directory, baseline[1])


def test_download_checksum_mismatch_is_in_the_download_log_and_writes_nothing(outcomes, baseline, server):
    directory, _ = outcome(outcomes, "bad_data_and_priors")
    cached = f"resources/data/{'0' * 64}/jla_mub.txt"
    text = log(directory, f"download/{cached}.log")
    assert re.search(
        rf"ERROR data file '{cached}': download from {server}/jla/jla_mub\.txt has "
        rf"sha256 [0-9a-f]{{64}}, expected {'0' * 64}; nothing was written to",
        text,
    )
    assert not (directory / cached).exists() and not (directory / "downloads").exists()
    assert_nothing_lost(directory, baseline[1])


def test_prior_outside_the_janus_domain_is_refused(outcomes, baseline):
    """The pre-flight job refuses it before either sampler starts."""
    directory, _ = outcome(outcomes, "bad_data_and_priors")
    assert re.search(
        r"ERROR config key 'priors\.janus': preflight failed 1 of 8 checks:\n"
        r"  - log_likelihood_at_prior_draws: the prior \(q0 in \[-0\.5, -0\.45\]\) excludes the whole "
        r"domain of model 'janus' on these data \(z up to 1\.3\)",
        log(directory, "preflight/jla/janus.log"),
    )
    assert_nothing_lost(directory, baseline[1])


def test_nan_log_likelihood_names_the_parameter_values(outcomes, baseline):
    directory, _ = outcome(outcomes, "bad_data_and_priors")
    assert re.search(
        r"log_likelihood_at_prior_centre: LikelihoodError: log-likelihood is NaN at Om=1\.75, w=0\.75 "
        r"\(model 'wcdm'\)",
        log(directory, "preflight/jla/wcdm.log"),
    )
    assert_nothing_lost(directory, baseline[1])


def test_prior_partly_outside_the_janus_domain_is_sampled_inside_it(tmp_path, public_data):
    """Only a prior with no point in the domain is refused; a partial overlap samples the part inside."""
    posterior = Posterior(get_model("janus"), [jla_diagonal(public_data)], {"q0": (-0.5, -0.3)})
    run_emcee_in(tmp_path, posterior, max_steps=100)
    q0 = chain_arrays(tmp_path / "chain.h5")["chain"][..., 0]
    assert np.all(1 + 2 * q0 * posterior.z_max > 0) and q0.max() <= -0.3


@scenario
def data_replaced_by_bad_data(directory, public_data, server):
    """The finished run's own data file gains a NaN: inspect_data fails, the chain and checkpoint stay."""
    path = directory / "data/jla_mub.txt"
    edit_lines(path, path, set_cell(3, 1, "nan"))
    return snakemake(directory, RUN_JSON)


def test_bad_data_replacing_good_data_loses_nothing(outcomes, baseline):
    directory, proc = outcome(outcomes, "data_replaced_by_bad_data")
    assert proc.returncode != 0
    assert "data row 3, column 'mu': value is missing or NaN" in log(directory, "inspect_data/jla.log")
    assert_nothing_lost(directory, baseline[1], rerun_data=True)


@scenario
def results_json_cut_short(directory, public_data, server):
    """A results file damaged after it was written: emcee's run.json cut short, read by the convergence job;
    data.json garbled, read while Snakemake plans the pre-flight job's memory. Both were JSON tracebacks
    (the audit's cases), data.json's at every run until it was deleted."""
    run_json = directory / RUN_JSON
    run_json.write_text(run_json.read_text()[:200])
    cut = snakemake(directory, "results/jla/lcdm/convergence.json")
    (directory / DATA_JSON).write_bytes(b"\xff\xfe\x00garbage")
    return cut, snakemake(directory, RUN_JSON)


def test_a_damaged_results_file_is_named_with_how_to_remake_it(outcomes, baseline):
    directory, (cut, garbled) = outcome(outcomes, "results_json_cut_short")
    assert cut.returncode != 0 and garbled.returncode != 0
    convergence = log(directory, "convergence/jla/lcdm.log")
    assert f"ERROR '{RUN_JSON}' is not valid JSON (Expecting value: line 14 column 2 (char 200))" in convergence
    assert "the file was cut short or edited; delete it and rerun the workflow, which writes it again" in convergence
    assert "Traceback" not in convergence
    assert (
        f"DamagedResult: '{DATA_JSON}' is not valid JSON ('utf-8' codec can't decode byte 0xff in position 0: "
        "invalid start byte): the file was cut short or edited; delete it and rerun the workflow" in garbled.stderr
    )
    kept = {k: v for k, v in snapshot(directory).items() if k not in (RUN_JSON, DATA_JSON)}
    assert kept == {k: v for k, v in baseline[1].items() if k not in (RUN_JSON, DATA_JSON)}


@scenario
def pins_added_after_the_results(directory, public_data, server):
    """The finished run's data pinned afterwards: by its own sha256 (nothing to rerun), then by another's."""
    own = sha256_file(directory / "data/jla_mub.txt")
    configure(directory, public_data, datasets={"jla": jla_spec(sha256=own)})
    matching = snakemake(directory, "--dry-run", RUN_JSON)
    configure(directory, public_data, datasets={"jla": jla_spec(sha256="0" * 64)})
    return matching, snakemake(directory, RUN_JSON)


def test_a_pin_added_after_the_results_is_checked_and_loses_nothing(outcomes, baseline):
    """The audit's case: a pin the data did not match, added to a finished dataset, reran nothing, and the
    results stood as if their data were the pinned release."""
    directory, (matching, mismatching) = outcome(outcomes, "pins_added_after_the_results")
    assert matching.returncode == 0 and "Nothing to be done" in matching.stdout + matching.stderr
    assert mismatching.returncode != 0 and "Error in rule inspect_data" in mismatching.stderr
    path = directory / "data/jla_mub.txt"
    assert (
        f"ERROR data file '{path}': has sha256 {sha256_file(path)}, but 'datasets.jla.sha256' pins {'0' * 64}"
        in log(directory, "inspect_data/jla.log")
    )
    assert_nothing_lost(directory, baseline[1], rerun_data=True)


# --- changed inputs on resume: the fingerprint's list of differences ---------


@scenario
def data_changed_on_resume(directory, public_data, server):
    """Valid but different data: refused; the old data back: the chain is rebuilt from the checkpoint.

    The changed file is dated 2000, older than every output, as ``cp -p``,
    ``rsync -t`` or ``tar`` leave a restored file: its content, not its date,
    reruns the jobs that read it.
    """
    path = directory / "data/jla_mub.txt"
    original = path.read_bytes()
    edit_lines(path, path, set_cell(3, 1, "33.9"))
    os.utime(path, (946684800, 946684800))
    refused = snakemake(directory, RUN_JSON)
    # Snakemake replaces a job's log when it reruns the job: keep the refusal's.
    refusal_log = log(directory, "emcee/jla/lcdm.log")
    after_refusal = snapshot(directory)
    path.write_bytes(original)
    return refused, refusal_log, after_refusal, snakemake(directory, RUN_JSON)


def test_changed_data_on_resume_lists_both_checksums_and_loses_nothing(outcomes, baseline):
    directory, (refused, text, after_refusal, restored) = outcome(outcomes, "data_changed_on_resume")
    assert refused.returncode != 0 and "Error in rule emcee" in refused.stderr
    old_sha = json.loads(baseline[1][DATA_JSON])["members"][0]["sha256"]["path"]
    assert f"ERROR the checkpoint in '{CHECKPOINT}' was made with different inputs:" in text
    assert re.search(rf"  data\.jla\.sha256\.path: '{old_sha}' -> '[0-9a-f]{{64}}'", text)
    # Snakemake removed the emcee job's outputs before running it; the checkpoint stayed.
    assert all(after_refusal.get(k) == v for k, v in baseline[1].items() if k.startswith(CHECKPOINT))
    # With the old data back, the chain is assembled from the checkpoint, nothing recomputed.
    assert restored.returncode == 0, restored.stderr[-3000:]
    assert json.loads((directory / RUN_JSON).read_text())["resumes"] == [300]
    assert_same_chain(chain_arrays(directory / CHAIN), chain_arrays(baseline[0] / CHAIN))


@scenario
def checkpoint_of_another_version(directory, public_data, server):
    fingerprint = directory / CHECKPOINT / "fingerprint.json"
    stored = json.loads(fingerprint.read_text())
    stored["janusfit_version"] = "0.0.9"
    fingerprint.write_text(json.dumps(stored))
    before = snapshot(directory)
    return before, snakemake(directory, RUN_JSON, "--forcerun", "emcee")


def test_checkpoint_of_another_janusfit_version_is_refused_naming_both(outcomes):
    directory, (before, proc) = outcome(outcomes, "checkpoint_of_another_version")
    assert proc.returncode != 0
    text = log(directory, "emcee/jla/lcdm.log")
    assert f"  janusfit_version: '0.0.9' -> '{__version__}'" in text
    assert f"The checkpoint was written by janusfit version 0.0.9, this is version {__version__}." in text
    assert all(snapshot(directory).get(k) == v for k, v in before.items() if k.startswith(CHECKPOINT))
