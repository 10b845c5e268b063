"""The preflight rule's work on real JLA data: what it writes, and how it stops."""

import json
import logging

import numpy as np
import pytest
from release_configs import jla_binned, jla_light_curves
from schema_defaults import with_defaults

from janusfit.errors import ConfigError, ResourceError
from janusfit.models import MODELS, Model
from janusfit.resources.requests import memory_estimate
from janusfit.resources.runtime import estimate_runtime_emcee, process_age_s, runtime_for_attempt
from janusfit.stages.data import inspect
from janusfit.stages.preflight import preflight_run
from janusfit.stages.sample import sample_emcee

LOG = logging.getLogger("test_preflight_stage")


class Hole(Model):
    """Einstein–de Sitter's E(z), but no number for ``band[0]`` < a < ``band[1]``: a model of one's own with a hole."""

    params = ("a",)
    labels = {"a": "$a$"}
    default_priors = {"a": (0.0, 1.0)}
    band = (0.0, 0.0)

    def E(self, theta, z):
        e = np.broadcast_to((1.0 + np.atleast_1d(z)) ** 1.5, (len(theta), np.size(z))).copy()
        e[(theta[:, 0] > self.band[0]) & (theta[:, 0] < self.band[1])] = np.nan
        return e


class WideHole(Hole):
    """6 % of the prior, which the pre-flight job's 32 draws of seed 0 (one at 0.176, the next at 0.270) and its
    centre missed."""

    name = "test_preflight_wide_hole"
    band = (0.19, 0.25)


class NarrowHole(Hole):
    """0.8 % of the prior, between two of the 1024 draws of seed 0 (0.0948 and 0.1055)."""

    name = "test_preflight_narrow_hole"
    band = (0.096, 0.104)


for _hole in (WideHole, NarrowHole):
    del MODELS[_hole.name]


def config(public_data, **sections):
    cfg = {
        "datasets": {"jla": jla_binned(public_data)},
        "models": ["lcdm"],
        **sections,
    }
    with_defaults(cfg)
    return cfg


def _preflight(cfg, model, data_json, granted_mem_mb, out_json, out_csv, resources) -> dict:
    """preflight_run's arguments for run jla/``model``."""
    return dict(
        config=cfg,
        dataset="jla",
        model=model,
        data_json=data_json,
        granted_mem_mb=granted_mem_mb,
        out_json=out_json,
        out_table=out_csv,
        resources_json=resources,
        log=LOG,
    )


@pytest.fixture(scope="module")
def data_json(tmp_path_factory, public_data):
    out = tmp_path_factory.mktemp("data")
    inspect(config=config(public_data), dataset="jla", out_json=out / "data.json", log=LOG)
    return out / "data.json"


def outputs(tmp_path):
    base = tmp_path / "results/jla/run"
    return base / "preflight.json", base / "preflight.csv", base / "resources.json"


@pytest.mark.parametrize("heavy", ["measured", "performance", "balanced"])
def test_the_threads_are_timed_under_the_measured_policy_only(tmp_path, public_data, data_json, heavy):
    # Under a fixed policy the sampling jobs' threads do not depend on a
    # timing, so none is made or shown: a record would claim a choice that
    # was not made.
    cfg = config(public_data, cores={"heavy": heavy})
    out_json, out_csv, resources = outputs(tmp_path)
    result = preflight_run(**_preflight(cfg, "lcdm", data_json, None, out_json, out_csv, resources))
    record = json.loads(resources.read_text())
    rows = [c for c in result["checks"] if c["name"].startswith("threads_")]
    if heavy != "measured":
        assert rows == [] and all("threads" not in record[s] for s in ("emcee", "dynesty"))
        return
    # The job had one thread (the default of preflight_run, as Snakemake gives
    # it for JLA binned): one count timed, the choice one, and the row says why.
    assert [r["name"] for r in rows] == ["threads_emcee", "threads_dynesty"]
    assert list(record["emcee"]["threads"]["seconds"]) == ["1"] and record["emcee"]["threads"]["threads"] == 1
    assert "the pre-flight job had one thread" in rows[0]["detail"]


def test_light_curves_are_timed_on_every_thread_with_the_samplers_own_time(tmp_path, public_data):
    import numba

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("numba's pool has one thread on this machine")
    cfg = config(public_data, cores={"heavy": "measured"})
    cfg["datasets"] = {"jla": jla_light_curves(public_data)}
    out = tmp_path / "data"
    inspect(config=cfg, dataset="jla", out_json=out / "data.json", log=LOG)
    out_json, out_csv, resources = outputs(tmp_path)
    preflight_run(**_preflight(cfg, "lcdm", out / "data.json", None, out_json, out_csv, resources), threads=2)
    record = json.loads(resources.read_text())
    for sampler in ("emcee", "dynesty"):
        threads = record[sampler]["threads"]
        own, seconds = threads["own_s"], threads["seconds"]
        # Two timings differ: on a loaded machine the difference may round to nothing.
        assert list(seconds) == ["1", "2"] and own >= 0
        # The job's efficiency: the sampler's own time does not shrink with threads.
        assert threads["efficiency"]["2"] == round((own + seconds["1"]) / (2 * (own + seconds["2"])), 3)
        assert threads["likelihood_efficiency"]["2"] == round(seconds["1"] / (2 * seconds["2"]), 3)
        assert threads["threads"] == (2 if threads["efficiency"]["2"] >= 0.7 else 1)
    # emcee's own time is what its timed steps took beyond the likelihood.
    emcee = record["emcee"]
    assert emcee["threads"]["own_s"] == pytest.approx(max(emcee["step_s"] / 32 - emcee["likelihood_s"], 0.0))


def test_the_runtime_estimates_time_the_likelihood_on_one_thread(tmp_path, public_data, monkeypatch):
    """A pre-flight job of two threads (light curves, measured policy) starts with BLAS at two, as
    Snakemake sets it; the samplers' likelihood times are taken at one, as a dynesty job runs."""
    import numba
    from threadpoolctl import threadpool_info, threadpool_limits

    from janusfit.likelihood import parallel
    from janusfit.stages import preflight

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("numba's pool has one thread on this machine")
    cfg = config(public_data, cores={"heavy": "measured"})
    cfg["datasets"] = {"jla": jla_light_curves(public_data)}
    out = tmp_path / "data"
    inspect(config=cfg, dataset="jla", out_json=out / "data.json", log=LOG)
    out_json, out_csv, resources = outputs(tmp_path)
    timed_on = []

    def time_likelihood(posterior, batch_size, **kwargs):
        blas = {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}
        timed_on.append((parallel.threads(), numba.get_num_threads(), blas))
        return preflight_time_likelihood(posterior, batch_size, **kwargs)

    preflight_time_likelihood = preflight.time_likelihood
    monkeypatch.setattr(preflight, "time_likelihood", time_likelihood)
    as_snakemake_sets_it = threadpool_limits(limits=2, user_api="blas")
    try:
        preflight_run(**_preflight(cfg, "lcdm", out / "data.json", None, out_json, out_csv, resources), threads=2)
    finally:
        as_snakemake_sets_it.restore_original_limits()
    assert timed_on == [(1, 1, {1}), (1, 1, {1})]


def refused_preflight(tmp_path, public_data, data_json, model):
    """The ConfigError of a pre-flight job of ``model`` (registered for the test), and its checks' record."""
    MODELS[model.name] = model
    cfg = config(public_data, models=[model.name])
    out_json, out_csv, resources = outputs(tmp_path)
    with pytest.raises(ConfigError) as err:
        preflight_run(**_preflight(cfg, model.name, data_json, None, out_json, out_csv, resources))
    return err, out_json


def test_a_hole_in_the_prior_stops_the_preflight_job_not_a_sampler(tmp_path, public_data, data_json, scratch_registry):
    """JLA binned's likelihood lasts microseconds a row, so the job checks it at 1024 prior draws.

    With 32, a region of the prior where the model gives no number passed
    the checks 6 % wide, and a sampler met it hours in.
    """
    err, _ = refused_preflight(tmp_path, public_data, data_json, WideHole)
    assert err.value.key == f"priors.{WideHole.name}"
    assert f"The prior (a in [0, 1]) reaches where model '{WideHole.name}' gives no number while " in str(err.value)
    assert " of 1025 points give one: narrow it to where the model is defined" in str(err.value)


def test_a_hole_the_checks_miss_and_the_timing_meets_names_the_prior(
    tmp_path, public_data, data_json, scratch_registry
):
    """The job's timing of the samplers evaluates the likelihood elsewhere than its checks; a NaN met there was
    a bare "log-likelihood is NaN at a=…", with no config key."""
    err, out_json = refused_preflight(tmp_path, public_data, data_json, NarrowHole)
    assert err.value.key == f"priors.{NarrowHole.name}"
    assert f"(model '{NarrowHole.name}'), met while timing the likelihood. The prior (a in [0, 1])" in str(err.value)
    assert all(c["passed"] for c in json.loads(out_json.read_text())["checks"])


def test_light_curves_are_checked_at_32_prior_draws(tmp_path, public_data):
    """A likelihood with heavy rows: each standardises 740 supernovae (with systematic matrices, factors a 740 × 740
    C(α, β), ~10 ms), so the job checks 32 prior draws, as before."""
    cfg = config(public_data, datasets={"jla": jla_light_curves(public_data)})
    out = tmp_path / "data"
    inspect(config=cfg, dataset="jla", out_json=out / "data.json", log=LOG)
    out_json, out_csv, resources = outputs(tmp_path)
    result = preflight_run(**_preflight(cfg, "lcdm", out / "data.json", None, out_json, out_csv, resources))
    (draws,) = [c for c in result["checks"] if c["name"] == "log_likelihood_at_prior_draws"]
    assert draws["passed"] and draws["detail"].startswith("32 of 32 draws finite"), draws


def test_passing_run_records_its_estimates(tmp_path, public_data, data_json):
    cfg = config(public_data)
    out_json, out_csv, resources = outputs(tmp_path)
    result = preflight_run(**_preflight(cfg, "lcdm", data_json, None, out_json, out_csv, resources))
    assert result["passed"] and json.loads(out_json.read_text()) == result
    assert "this machine allows" in next(c for c in result["checks"] if c["name"] == "memory")["detail"]
    record = json.loads(resources.read_text())
    for sampler in ("emcee", "dynesty"):
        assert record[sampler]["mem_mb"] == memory_estimate(cfg, "jla", "lcdm", sampler, data_json).total_mb
        assert 0 < record[sampler]["likelihood_s"] < 0.01
        assert runtime_for_attempt(resources, 500, 2, section=sampler) == pytest.approx(
            2 * record[sampler]["runtime_minutes"], abs=1
        )
    # The fixed part is this process's age when it timed the likelihood: here, the test session's so far.
    assert 0 < record["startup_s"] < process_age_s()
    assert record["emcee"]["runtime_minutes"] == pytest.approx(
        estimate_runtime_emcee(record["emcee"]["step_s"], 20000, overhead_s=record["startup_s"]), abs=0.01
    )
    # 32 walkers × 20000 steps × 1 parameter × 8 B × 2, plus the baseline.
    assert record["emcee"]["seed_upper_bound_mb"] == 206  # BASELINE_MB 195 + 10.24, rounded up
    assert record["disk_bytes"] > 50_000_000


def test_lowered_mem_mb_stops_the_run_naming_the_settings(tmp_path, public_data, data_json):
    cfg = config(public_data)
    out_json, out_csv, resources = outputs(tmp_path)
    with pytest.raises(ResourceError) as info:
        preflight_run(**_preflight(cfg, "lcdm", data_json, 100, out_json, out_csv, resources))
    message = str(info.value)
    for part in ("memory", "Snakemake's --resources mem_mb allows 100 MB", "emcee.n_walkers", "dynesty.nlive"):
        assert part in message
    assert not json.loads(out_json.read_text())["passed"]
    assert not resources.exists()


def test_too_few_walkers_stops_the_run(tmp_path, public_data, data_json):
    # wCDM has two parameters (Om, w): emcee needs at least 4 walkers. The
    # schema refuses fewer than 4, so set 2 after it, as a caller of the API may.
    cfg = config(public_data, models=["wcdm"], samplers=["emcee"])
    cfg["emcee"]["n_walkers"] = 2
    out_json, out_csv, resources = outputs(tmp_path)
    with pytest.raises(ConfigError) as info:
        preflight_run(**_preflight(cfg, "wcdm", data_json, None, out_json, out_csv, resources))
    assert info.value.key == "emcee.n_walkers" and "2 walkers for 2 parameters (emcee needs at least 4)" in str(
        info.value
    )
    checks = {c["name"]: c["passed"] for c in json.loads(out_json.read_text())["checks"]}
    assert checks == {
        "data_validated": True,
        "log_likelihood_at_prior_centre": True,
        "log_likelihood_at_prior_draws": True,
        "expansion_rate": True,
        "n_walkers": False,
        "disk": True,
        "memory": True,
        "out_dir_writable": True,
    }


def test_sampling_job_given_less_than_its_estimate_refuses_to_start(tmp_path, public_data, data_json):
    cfg = config(public_data)
    with pytest.raises(ResourceError) as info:
        sample_emcee(
            config=cfg,
            dataset="jla",
            model="lcdm",
            checkpoint_dir=tmp_path / "ck",
            chain_path=tmp_path / "chain.h5",
            run_json=tmp_path / "run.json",
            data_json=data_json,
            memory_json=tmp_path / "memory.json",
            log=LOG,
            granted_mem_mb=100,
        )
    message = str(info.value)
    assert "Snakemake's --resources mem_mb allows 100 MB" in message and "emcee.n_walkers" in message
    assert list(tmp_path.iterdir()) == []
