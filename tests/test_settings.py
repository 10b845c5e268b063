"""janusfit.settings is the one source of the samplers' defaults and rules.

The JSON schema repeats the defaults (a user reads them there, and Snakemake
fills them in from it): these tests fail when the two disagree. Parsing a
workflow must not load the samplers: the settings module imports nothing but
the standard library, and the config reads its settings from it.
"""

from __future__ import annotations

import ast
import dataclasses
import subprocess
import sys

import numpy as np
import pytest
import yaml
from schema_defaults import with_defaults
from snakemake.utils import validate

from janusfit import settings
from janusfit.config import rule_params, run_settings
from janusfit.sampling.emcee_runner import MOVES

SCHEMA = "workflow/schemas/config.schema.yaml"
SAMPLER_MODULES = ("emcee", "dynesty", "h5py")


def filled(repo, **config) -> dict:
    """A config of one dataset with the schema's defaults filled in, as the workflow sees it."""
    config = {"datasets": {"jla": {"kind": "sn", "format": "jla_binned", "path": "jla.txt"}}, **config}
    validate(config, str(repo / SCHEMA))
    return config


@pytest.mark.parametrize("model, n_params", [("lcdm", 1), ("wcdm", 2)])
def test_the_schema_defaults_are_the_settings_defaults(repo, model, n_params):
    run = run_settings(filled(repo, models=[model]), "jla", model)
    assert run.emcee == settings.EmceeSettings(
        n_walkers=settings.default_walkers(n_params), max_steps=run.emcee.max_steps
    )
    # The schema's default bound, auto, is resolved for the run's dimension.
    assert run.dynesty == settings.DynestySettings(bound=settings.resolve_bound("auto", n_params))


def test_the_schema_convergence_defaults_are_the_checks_defaults(repo):
    from janusfit.diagnostics.convergence import DEFAULT_THRESHOLDS

    schema = yaml.safe_load((repo / SCHEMA).read_text())["definitions"]["convergence"]["properties"]
    assert {k: schema[k]["default"] for k in DEFAULT_THRESHOLDS} == DEFAULT_THRESHOLDS


def test_the_schema_minima_are_the_rules_for_one_parameter(repo):
    schema = yaml.safe_load((repo / SCHEMA).read_text())["definitions"]
    assert schema["emcee"]["properties"]["n_walkers"]["minimum"] == settings.minimum_walkers(1)
    assert schema["dynesty"]["properties"]["nlive"]["minimum"] == settings.minimum_nlive(1)
    assert schema["emcee"]["properties"]["moves"]["enum"] == list(MOVES)


def test_every_default_is_overridden_by_the_config(repo):
    """Each emcee and dynesty setting the config declares reaches the run's settings (no default shadows it)."""
    emcee = {
        "n_walkers": 10,
        "max_steps": 7,
        "seed": 3,
        "moves": "stretch",
        "checkpoint": {"steps": 9, "seconds": 2},
        "stop": {"enabled": False, "check_every": 11, "n_over_tau": 12, "tau_rel_change": 0.5},
        "progress": {"figure": False, "seconds": 13},
    }
    dynesty = {
        "nlive": 14,
        "dlogz": 0.2,
        "method": "dynamic",
        "bound": "single",
        "sample": "rwalk",
        "seed": 15,
        "checkpoint_seconds": 16,
        "maxiter": 17,
        "repeats": 2,
    }
    config = filled(repo, models=["lcdm"], emcee=emcee, dynesty=dynesty)
    config["convergence"]["max_walker_deficit"] = 18
    run = run_settings(config, "jla", "lcdm")
    defaults_e = settings.EmceeSettings(n_walkers=0, max_steps=0)
    changed = {
        f.name for f in dataclasses.fields(run.emcee) if getattr(run.emcee, f.name) != getattr(defaults_e, f.name)
    }
    assert changed == {f.name for f in dataclasses.fields(run.emcee)} - {"tau_max_lag"}
    changed = {
        f.name
        for f in dataclasses.fields(run.dynesty)
        if getattr(run.dynesty, f.name) != getattr(settings.DynestySettings(), f.name)
    }
    assert changed == {f.name for f in dataclasses.fields(run.dynesty)}


def test_the_settings_module_imports_only_the_standard_library(repo):
    tree = ast.parse((repo / "src/janusfit/settings.py").read_text())
    imported = {
        alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    }
    imported |= {
        node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level == 0
    }
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}


def test_reading_the_config_loads_no_sampler():
    code = (
        "import sys, janusfit.config, janusfit.resources.requests; "
        f"print(sorted(m for m in {SAMPLER_MODULES!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_parsing_the_workflow_loads_no_sampler(repo, tmp_path):
    """A dry run of the default workflow plans every job without importing emcee, dynesty or h5py."""
    proc = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-m",
            "snakemake",
            "--snakefile",
            str(repo / "Snakefile"),
            "--directory",
            str(tmp_path),
            "--configfile",
            str(repo / "config/config.yaml"),
            "--dry-run",
            "--cores",
            "1",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "rule emcee:" in proc.stdout and "rule dynesty:" in proc.stdout
    loaded = {line.rsplit("|", 1)[1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert loaded & set(SAMPLER_MODULES) == set()
    assert "janusfit.config" in loaded


def test_a_prior_bound_written_as_an_integer_is_the_same_prior_and_reruns_nothing(repo):
    """The audit's case: q0: [-0.5, 0] instead of [-0.5, 0.0] reran every job of the JANUS runs."""
    config = yaml.safe_load((repo / "config" / "config.yaml").read_text())
    with_defaults(config)
    as_float = rule_params({**config, "priors": {"janus": {"q0": [-0.5, 0.0]}}}, "simulated", "janus")
    as_int = rule_params({**config, "priors": {"janus": {"q0": [-0.5, 0]}}}, "simulated", "janus")
    assert as_int == as_float
    # The second audit's: -0.0 reran the JANUS runs.
    assert rule_params({**config, "priors": {"janus": {"q0": [-0.5, -0.0]}}}, "simulated", "janus") == as_float


def test_the_configs_h0_default_is_the_likelihoods():
    from janusfit import config
    from janusfit.likelihood import posterior

    assert config.H0_PRIOR == posterior.H0_PRIOR


def test_h0s_default_prior_written_out_reruns_nothing(repo):
    """The second audit's case: priors: {lcdm: {H0: [50, 100]}}, H0's default, reran the pre-flight and both
    samplers of every run with H(z) data (they resumed)."""
    config = filled(repo, datasets={"cc": CC}, models=["lcdm"])
    left_out = rule_params(config, "cc", "lcdm")
    written = {**config, "priors": {"lcdm": {"H0": [50, 100.0]}}}
    assert rule_params(written, "cc", "lcdm") == left_out
    other = {**config, "priors": {"lcdm": {"H0": [60, 80]}}}
    assert rule_params(other, "cc", "lcdm")["emcee"] != left_out["emcee"]


def test_thresholds_written_as_floats_and_priors_left_at_their_default_rerun_nothing(repo):
    """The audit's cases: min_n_over_tau: 50.0 reran the convergence jobs and everything after them, and
    deleting config.yaml's ΛCDM prior (the model's default) reran every ΛCDM job; the samplers resumed."""
    config = yaml.safe_load((repo / "config" / "config.yaml").read_text())
    with_defaults(config)
    written = rule_params(config, "simulated", "lcdm")
    as_floats = {**config["convergence"], "min_n_over_tau": 50.0, "min_ess_bulk": 400.0, "n_groups": 4.0}
    assert rule_params({**config, "convergence": as_floats}, "simulated", "lcdm") == written
    assert rule_params({**config, "priors": {"janus": config["priors"]["janus"]}}, "simulated", "lcdm") == written
    other = {**config, "convergence": {**config["convergence"], "min_n_over_tau": 50.5}}
    assert rule_params(other, "simulated", "lcdm")["convergence"] != written["convergence"]


def test_emcees_moves_rerun_the_preflight_job_that_times_them(repo):
    """The audit's case: the pre-flight job times emcee's steps with the configured moves, for the runtime
    estimate (a cluster's time limit) and the threads, but another move left its estimate standing."""
    config = yaml.safe_load((repo / "config" / "config.yaml").read_text())
    with_defaults(config)
    default = rule_params(config, "simulated", "lcdm")["preflight"]
    assert "moves" not in default  # the params every finished run of config.yaml recorded
    for moves in ("stretch", "de_snooker"):
        changed = {**config, "emcee": {**config["emcee"], "moves": moves}}
        assert rule_params(changed, "simulated", "lcdm")["preflight"] != default


@pytest.mark.parametrize(("n_params", "method"), [(1, "unif"), (12, "rwalk"), (25, "rslice")])
def test_dynestys_auto_sample_written_out_is_the_same_setting(n_params, method):
    """The audit's case: sample: unif, what auto runs for one parameter (the same draws, bit for bit), reran the
    pre-flight job and both samplers, and the dynesty checkpoint refused it ("settings.sample: 'auto' -> 'unif'")."""
    assert settings.canonical_sample(method, n_params) == settings.canonical_sample("auto", n_params) == "auto"
    assert settings.canonical_sample("slice", n_params) == "slice"


def test_the_sample_method_written_out_changes_no_param_and_no_fingerprint(repo):
    config = yaml.safe_load((repo / "config" / "config.yaml").read_text())
    with_defaults(config)
    written = {**config, "dynesty": {**config["dynesty"], "sample": "unif"}}
    assert rule_params(written, "simulated", "lcdm") == rule_params(config, "simulated", "lcdm")
    auto = run_settings(config, "simulated", "lcdm").dynesty.chain_settings()
    assert run_settings(written, "simulated", "lcdm").dynesty.chain_settings() == auto


@pytest.mark.parametrize(
    ("runs", "other", "change"),
    [
        ("emcee", "dynesty", {"nlive": 200, "dlogz": 0.5, "repeats": 3, "sample": "rwalk", "method": "dynamic"}),
        ("dynesty", "emcee", {"max_steps": 5000, "n_walkers": 40, "moves": "stretch"}),
    ],
)
def test_the_settings_of_a_sampler_not_run_rerun_nothing(repo, runs, other, change):
    """The audit's case: with samplers: [emcee], dynesty.nlive reran the pre-flight job, emcee and all after it."""
    config = yaml.safe_load((repo / "config" / "config.yaml").read_text())
    config["samplers"] = [runs]
    with_defaults(config)
    for key, value in change.items():
        changed = {**config, other: {**config[other], key: value}}
        assert (
            rule_params(changed, "simulated", "lcdm")["preflight"]
            == rule_params(config, "simulated", "lcdm")["preflight"]
        ), key
    both = {**config, "samplers": ["emcee", "dynesty"]}
    key, value = next(iter(change.items()))
    assert (
        rule_params({**both, other: {**both[other], key: value}}, "simulated", "lcdm")["preflight"]
        != rule_params(both, "simulated", "lcdm")["preflight"]
    )


CC = {"kind": "hz", "format": "hz_table", "path": "cc.txt"}


def test_a_models_h0_prior_is_for_its_runs_with_h_z_data(repo):
    """The audit's case: priors: {lcdm: {H0: …}} was refused whenever an SN-only run of lcdm existed."""
    from janusfit.config import check

    jla = {"kind": "sn", "format": "jla_binned", "path": "jla.txt"}
    config = filled(repo, datasets={"jla": jla, "cc": CC}, models=["lcdm"], priors={"lcdm": {"H0": [60, 80]}})
    check(config)
    assert run_settings(config, "cc", "lcdm").priors == {"H0": (60, 80)}
    assert run_settings(config, "jla", "lcdm").priors == {}
    assert rule_params(config, "jla", "lcdm") == rule_params(
        filled(repo, datasets={"jla": jla, "cc": CC}), "jla", "lcdm"
    )


def test_a_prior_on_a_parameter_no_run_has_is_refused_naming_its_key(repo):
    from janusfit.config import check
    from janusfit.errors import ConfigError

    with pytest.raises(ConfigError) as raised:
        check(filled(repo, models=["lcdm"], priors={"lcdm": {"H0": [60, 80]}}))
    assert str(raised.value) == (
        "config key 'priors.lcdm.H0': 'H0' is a parameter of none of the runs of 'lcdm' (jla/lcdm: Om); "
        "H0 is sampled only with H(z) data"
    )
    with pytest.raises(ConfigError) as raised:
        check(filled(repo, models=["lcdm"], runs={"jla/lcdm": {"priors": {"lcdm": {"H0": [60, 80]}}}}))
    assert (
        str(raised.value) == "config key 'runs.jla/lcdm.priors.lcdm.H0': 'H0' is not a parameter of run jla/lcdm (Om)"
    )


def test_a_section_written_twice_in_a_config_file_stops_snakemake_naming_both_lines(tmp_path, public_data):
    """The audit's case: a second 'emcee:' appended to a config dropped the first's settings without a word."""
    from snakemake_runner import run, write_config

    path = write_config(tmp_path, public_data, models=["lcdm"], emcee={"n_walkers": 16, "max_steps": 3000})
    lines = path.read_text().splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("emcee:")) + 1
    path.write_text(path.read_text() + "emcee:\n  seed: 7\n")
    done = run(tmp_path, "-n", check=False)
    assert done.returncode != 0
    assert (
        f"config key 'emcee': written twice in the same section of '{path}' (lines {first} and {len(lines) + 1}): "
        "YAML keeps the second and drops every setting of the first; write it once"
    ) in done.stdout + done.stderr  # with -n Snakemake prints it to stdout


def test_a_yaml_syntax_error_in_the_default_config_is_named_with_its_line(tmp_path, public_data):
    """Snakemake's own message, 'Config file is not valid JSON or YAML', names neither the file nor the line."""
    from snakemake_runner import run, write_config

    write_config(tmp_path, public_data)
    (tmp_path / "config").mkdir()
    (tmp_path / "config/config.yaml").write_text("models: [janus\nsamplers: [emcee]\n")
    done = run(tmp_path, "-n", check=False)
    assert done.returncode != 0
    assert (
        "config file 'config/config.yaml' is not valid YAML, line 2, column 9: expected ',' or ']', but got ':'"
        in done.stdout + done.stderr
    )


@pytest.mark.parametrize(
    "dataset, key, problem",
    [
        (
            {"kind": "sn", "format": "jla_binned", "path": "jla.txt", "seed": 7},
            "datasets.jla.seed",
            "applies to format 'simulated' only, not 'jla_binned'",
        ),
        (
            {"kind": "sn", "format": "jla_binned", "path": "jla.txt", "cov_sha256": "0" * 64},
            "datasets.jla.cov_sha256",
            "is given without 'cov' or 'cov_url', the covariance it would pin",
        ),
        (  # was "applies to format 'simulated' only, not 'None'"
            {"kind": "sn", "path": "jla.txt", "n_sn": 30},
            "datasets.jla.format",
            "is required: a dataset needs 'kind', 'format' and 'path' (or 'url'), or 'combine'",
        ),
    ],
    ids=["simulation_seed_on_real_data", "covariance_pin_without_covariance", "simulation_size_without_format"],
)
def test_a_dataset_key_that_would_change_nothing_is_refused(repo, dataset, key, problem):
    """The audit's cases: accepted and ignored without a word."""
    from janusfit.config import check
    from janusfit.errors import ConfigError

    with pytest.raises(ConfigError) as raised:
        check(filled(repo, datasets={"jla": dataset}))
    assert str(raised.value) == f"config key '{key}': {problem}"


def test_a_key_beside_combine_is_refused(repo):
    from janusfit.config import check
    from janusfit.errors import ConfigError

    jla = {"kind": "sn", "format": "jla_binned", "path": "jla.txt"}
    both = {"combine": ["jla", "cc"], "path": "other.txt"}
    with pytest.raises(ConfigError) as raised:
        check(filled(repo, datasets={"jla": jla, "cc": CC, "both": both}))
    assert str(raised.value) == (
        "config key 'datasets.both.path': a combined dataset is its members' data, read as each member says; "
        "'path' here would change nothing: write it on a member, or remove it"
    )


def _model(name, params, labels=None, domain=None):
    """A model class registered under ``name`` (E of flat ΛCDM in its first parameter), ``labels`` None for none."""
    from janusfit.models import Model

    body = {
        "name": name,
        "params": params,
        "default_priors": {p: (0.1, 1.0) for p in params},
        "E": lambda self, theta, z: np.sqrt(theta[:, :1] * (1 + z) ** 3 + 1 - theta[:, :1]),
    }
    if labels is not None:
        body["labels"] = labels
    if domain is not None:
        body["domain_bounds"] = lambda self, z_max: domain
    return type(name, (Model,), body)


@pytest.mark.parametrize(
    "params, labels, domain, problem",
    [
        (
            ("Om", "H0"),
            {"Om": "a", "H0": "b"},
            None,
            "has a parameter named 'H0', which janusfit samples itself beside a model's parameters (H0 for H(z) "
            "data, alpha and beta for light curves); rename the model's parameter",
        ),
        (("Om", "beta"), {"Om": "a", "beta": "b"}, None, "has a parameter named 'beta', which janusfit samples"),
        (("Om", "Ol"), None, None, "must give a LaTeX label for each of its params ['Om', 'Ol']; labels: none"),
        (
            ("Om", "Ol"),
            {"Om": "a"},
            None,
            "must give a LaTeX label for each of its params ['Om', 'Ol']; labels: ['Om']",
        ),
        (("Om",), {"Om": "a"}, {"om": (0.0, 1.0)}, "domain_bounds names ['om'], not among its params ['Om']"),
    ],
    ids=["H0", "beta", "no-labels", "a-label-missing", "domain-of-another-name"],
)
def test_a_model_class_that_cannot_make_a_run_is_refused_naming_it(
    repo, scratch_registry, params, labels, domain, problem
):
    """The audit's cases: a model's own H0 beside the H0 H(z) data add was sampled as two 'H0' (the summary
    reported the unconstrained one, 74.9 ± 14.4 for 67.7 ± 3.1); no labels, or a domain naming another
    parameter, stopped the pre-flight job with a traceback; a missing label fell back to the name."""
    from janusfit.config import check
    from janusfit.errors import ConfigError

    _model("_audit_model", params, labels, domain)
    with pytest.raises(ConfigError) as raised:
        check(filled(repo, datasets={"cc": CC}, models=["lcdm", "_audit_model"]))
    message = str(raised.value)
    assert message.startswith(f"config key 'models[1]': model '_audit_model' ({__name__})")
    assert problem in message


def test_a_model_may_label_more_than_its_parameters(repo, scratch_registry):
    from janusfit.config import check

    _model("_extra_label", ("Om",), {"Om": "a", "Ol": "b"})
    check(filled(repo, models=["_extra_label"]))
