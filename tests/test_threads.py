"""The measured threads policy: what the pre-flight job records, and the threads a sampling rule asks for from it.

The timings are a fake timer's, so each verdict follows from the numbers
given, never from this machine's load.
"""

from __future__ import annotations

import json

import numba
import pytest

from janusfit.errors import ConfigError
from janusfit.likelihood import parallel
from janusfit.resources.cores import CoreCounts, threads_for
from janusfit.resources.requests import preflight_threads, sampling_threads
from janusfit.resources.threads import EFFICIENCY_THRESHOLD, choose_threads, measure_threads, measured_threads


def test_the_largest_count_at_or_above_the_threshold_wins_else_one():
    assert EFFICIENCY_THRESHOLD == 0.7
    assert choose_threads({1: 1.0, 2: 0.95, 3: 0.8, 4: 0.69}) == 3
    assert choose_threads({1: 1.0, 2: 0.7}) == 2
    assert choose_threads({1: 1.0, 2: 0.55, 3: 0.4}) == 1
    # A count past one that fell below is still taken when it is back above (measured, not extrapolated).
    assert choose_threads({1: 1.0, 2: 0.6, 3: 0.75}) == 3
    assert choose_threads({1: 1.0}) == 1


def test_measure_times_every_count_with_that_many_threads_and_leaves_one():
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("numba's pool has one thread on this machine")
    seen = []

    def timer(posterior, batch_size):
        seen.append((parallel.threads(), batch_size))
        return {1: 8e-6, 2: 5e-6}[parallel.threads()]

    record = measure_threads(object(), batch_size=16, max_threads=2, timer=timer)
    assert sorted(set(seen)) == [(1, 16), (2, 16)]
    assert record["efficiency"] == {"1": 1.0, "2": 0.8}
    assert record["threads"] == 2
    assert record["batch"] == 16 and record["threshold"] == EFFICIENCY_THRESHOLD
    assert parallel.threads() == 1


def test_the_samplers_own_time_counts_in_the_efficiency():
    # A likelihood that scales at 0.8 beside a sampler spending as much of
    # its own per evaluation: the job goes 16/13 = 1.23x faster on 2 threads,
    # efficiency 0.62, so it asks for one.
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("numba's pool has one thread on this machine")

    def timer(posterior, batch_size):
        return {1: 8e-6, 2: 5e-6}[parallel.threads()]

    record = measure_threads(object(), batch_size=16, max_threads=2, own_s=8e-6, timer=timer)
    assert record["likelihood_efficiency"] == {"1": 1.0, "2": 0.8}
    assert record["efficiency"] == {"1": 1.0, "2": 0.615}
    assert record["own_s"] == 8e-6 and record["threads"] == 1
    # Where the likelihood is all of the time, the two agree and the job takes both threads.
    assert measure_threads(object(), batch_size=16, max_threads=2, timer=timer)["threads"] == 2


def test_counts_past_numbas_pool_are_not_timed():
    seen = set()
    record = measure_threads(
        object(),
        batch_size=1,
        max_threads=10_000,
        timer=lambda posterior, batch_size: seen.add(parallel.threads()) or 1e-5,
    )
    assert max(seen) == numba.config.NUMBA_NUM_THREADS == len(record["seconds"])


def test_a_likelihood_that_does_not_scale_asks_for_one_thread():
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("numba's pool has one thread on this machine")
    record = measure_threads(object(), batch_size=1, max_threads=2, timer=lambda posterior, batch_size: 1e-5)
    assert record["efficiency"] == {"1": 1.0, "2": 0.5}
    assert record["threads"] == 1


def _resources(tmp_path, emcee_threads):
    path = tmp_path / "resources.json"
    path.write_text(
        json.dumps({"emcee": {"threads": {"threads": emcee_threads}}, "dynesty": {"threads": {"threads": 1}}})
    )
    return path


LIGHT_CURVES = {"jla740": {"kind": "sn", "format": "jla_lcparams"}}
REDUCED_FORM = {"jla": {"kind": "sn", "format": "jla_binned"}}


def _config(heavy: str, datasets: dict) -> dict:
    return {"cores": {"heavy": heavy}, "datasets": datasets}


def test_the_sampling_rule_asks_for_the_measured_count_capped_by_the_performance_cores(tmp_path):
    config = _config("measured", LIGHT_CURVES)
    m4 = CoreCounts(4, 6, "test")

    def threads(counts, record, sampler, unmeasured):
        return sampling_threads(
            config, counts, dataset="jla740", resources_json=record, sampler=sampler, unmeasured=unmeasured
        )

    assert threads(m4, _resources(tmp_path, 3), "emcee", 4) == 3
    assert threads(m4, _resources(tmp_path, 3), "dynesty", 1) == 1
    # A record from a bigger machine never asks for more than this one's P cores.
    assert threads(CoreCounts(2, 0, "test"), _resources(tmp_path, 3), "emcee", 2) == 2
    # Before the pre-flight job: the most it may choose, which Snakemake asks again once the file exists.
    assert threads(m4, tmp_path / "missing.json", "emcee", 4) == 4
    (tmp_path / "bad.json").write_text("{not json")
    assert measured_threads(tmp_path / "bad.json", "emcee", fallback=2) == 2


@pytest.mark.parametrize("choice, emcee, dynesty", [("performance", 4, 1), ("balanced", 6, 1)])
def test_the_unmeasured_policies_ask_as_before(tmp_path, choice, emcee, dynesty):
    config = _config(choice, LIGHT_CURVES)
    m4 = CoreCounts(4, 6, "test")
    most = threads_for("heavy", m4, choice)
    assert most == emcee
    record = _resources(tmp_path, 1)
    common = {"dataset": "jla740", "resources_json": record}
    assert sampling_threads(config, m4, sampler="emcee", unmeasured=most, **common) == emcee
    assert sampling_threads(config, m4, sampler="dynesty", unmeasured=1, **common) == dynesty


@pytest.mark.parametrize(
    "heavy, datasets, dataset, expected",
    [
        ("measured", LIGHT_CURVES, "jla740", 4),
        ("measured", {**LIGHT_CURVES, **REDUCED_FORM, "both": {"combine": ["jla", "jla740"]}}, "both", 4),
        ("measured", REDUCED_FORM, "jla", 1),
        ("measured", {"cc": {"kind": "hz", "format": "hz_table"}}, "cc", 1),
        ("performance", LIGHT_CURVES, "jla740", 1),
        ("balanced", LIGHT_CURVES, "jla740", 1),
    ],
)
def test_the_preflight_job_holds_p_cores_only_where_it_times_threads_that_can_pay(heavy, datasets, dataset, expected):
    # Holding P cores for a timing whose answer is one thread, or for no timing
    # (a fixed policy), keeps every other job off them for the whole job.
    assert preflight_threads(_config(heavy, datasets), CoreCounts(4, 6, "test"), dataset) == expected


def test_a_run_whose_preflight_job_times_one_thread_asks_for_one_before_and_after(tmp_path):
    config = _config("measured", REDUCED_FORM)
    for record in (tmp_path / "missing.json", _resources(tmp_path, 1)):
        common = {"dataset": "jla", "resources_json": record, "unmeasured": 4}
        assert sampling_threads(config, CoreCounts(4, 6, "test"), sampler="emcee", **common) == 1


def test_an_unknown_policy_names_the_key():
    with pytest.raises(ConfigError) as info:
        sampling_threads(
            _config("all", LIGHT_CURVES),
            CoreCounts(2, 0, "test"),
            dataset="jla740",
            resources_json=None,
            sampler="emcee",
            unmeasured=2,
        )
    assert info.value.key == "cores.heavy"
