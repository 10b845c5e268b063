import importlib.metadata
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from janusfit.errors import ResourceError
from janusfit.resources import memory
from janusfit.resources.memory import (
    BASELINE_MB,
    check_fits,
    dynesty_iterations,
    estimate_dynesty,
    estimate_emcee,
    measure_baseline_mb,
    mem_mb_for_attempt,
    memory_budget,
    memory_table,
    quadrature_nodes,
    seed_upper_bound,
)
from janusfit.sampling import progress as progress_module

EMCEE = dict(n_walkers=64, n_steps=10000, n_params=2, n_data=100, full_cov=True, checkpoint_steps=1000)
DYNESTY = dict(nlive=500, n_params=2, n_data=100, full_cov=True, expected_information=5.0)


def test_emcee_components():
    c = estimate_emcee(**EMCEE).components
    assert c["baseline"] == BASELINE_MB
    assert c["covariance"] == pytest.approx(100 * 100 * 8 / 1e6)
    assert c["cholesky"] == pytest.approx(2.5 * 100 * 100 * 8 / 1e6)
    assert c["numba_kernels"] == memory.NUMBA_MB
    assert c["data_loading"] == pytest.approx((100 * 4000 + 100 * 100 * 110) / 1e6)
    assert c["progress_figure"] == 27.5 + 15.0 + 5.0 * 2  # matplotlib imported, then the figure drawn
    assert c["stuck_watch"] == pytest.approx(52 * 1000 * 64 / 1e6)  # 1000 thinned steps of 64 walkers
    assert estimate_emcee(**EMCEE, progress_figure=False).components["progress_figure"] == 0.0
    # 12 nodes × (7 panels up to z = 2.5 + 6 graded) + 24 knots; the first call has all 64 walkers.
    assert quadrature_nodes(2.5) == 180
    assert c["likelihood_temporaries"] == pytest.approx(64 * 8 * (4 * 180 + 2.5 * 100) / 1e6)
    # Segments are cut at check_every (500) even though checkpoint_steps is 1000.
    assert c["segment_buffer"] == pytest.approx(2.5 * 500 * 64 * 3 * 8 / 1e6)
    assert c["final_assembly"] == pytest.approx(500 * 64 * 3 * 8 / 1e6)
    # The stopping rule's three arrays of 2048 lags (of 10000 steps), and τ's temporaries:
    # 500 held steps three times, four walkers × lags series, four FFT arrays of 32 walkers.
    assert c["autocorr_sums"] == pytest.approx(3 * 2048 * 64 * 2 * 8 / 1e6)
    assert c["tau_temporaries"] == pytest.approx((3 * 500 * 2 * 64 + 4 * 2048 * 64 + 4 * 32 * 3048) * 8 / 1e6)


def test_autocorr_sums_are_bounded_by_the_largest_lag():
    long = dict(EMCEE, n_steps=1_000_000)
    assert estimate_emcee(**long).components["autocorr_sums"] == pytest.approx(3 * 2048 * 64 * 2 * 8 / 1e6)
    short = dict(EMCEE, n_steps=1000)
    assert estimate_emcee(**short).components["autocorr_sums"] == pytest.approx(3 * 1000 * 64 * 2 * 8 / 1e6)
    assert estimate_emcee(**long, tau_max_lag=4096).components["autocorr_sums"] == pytest.approx(
        3 * 4096 * 64 * 2 * 8 / 1e6
    )


AUTOCORR_CODE = """
import sys
import numpy as np
from janusfit.sampling.autocorr import AutocorrTime
def hwm():
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")) * 1024 / 1e6
walkers, params, steps = map(int, sys.argv[1:])
segment = np.random.default_rng(0).standard_normal((500, walkers, params))
before = hwm()
chain = AutocorrTime()
for i in range(steps // 500):  # the sums fill up to 2048 lags, τ is estimated every 10 segments
    chain.append(segment)
    if i % 10 == 9:
        chain.tau()
chain.append(segment[:250])  # and once with steps held, not yet committed
chain.tau()
print(hwm() - before)
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM from /proc")
@pytest.mark.parametrize("walkers, params, steps", [(128, 2, 30000), (32, 1, 10000), (256, 5, 5000)])
def test_stopping_rule_sums_stay_within_their_components(walkers, params, steps):
    # A fresh interpreter, so that the high-water mark rises only with the sums.
    rise = float(
        subprocess.run(
            [sys.executable, "-c", AUTOCORR_CODE, str(walkers), str(params), str(steps)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    c = estimate_emcee(walkers, steps, params, 20, False, 500).components
    assert c["autocorr_sums"] <= rise <= c["autocorr_sums"] + c["tau_temporaries"]


@pytest.mark.parametrize("walkers", [32, 64, 256])
def test_the_stuck_walker_watch_stays_within_its_component(tmp_path, walkers):
    """tracemalloc's peak over the watch's copy of ln p and its tests, 4000 steps fed as the sampler feeds them.

    After one warm-up call, whose imports the baseline counts. Segments of
    400 steps, so that the last checkpoint holds WATCH_ROWS kept rows.
    """
    import tracemalloc

    from janusfit.sampling.emcee_runner import EmceeSettings
    from janusfit.sampling.progress import EmceeProgress

    rng = np.random.default_rng(0)
    warm = EmceeProgress(tmp_path / "warm", EmceeSettings(n_walkers=8, max_steps=100, progress_figure=False), ["x"])
    warm.observe(rng.normal(size=(100, 8, 1)), rng.normal(size=(100, 8)), np.full(8, 50))
    warm.checkpoint(100, [], [1.0])
    segments = [(rng.normal(size=(400, walkers, 1)), -0.5 * rng.normal(size=(400, walkers)) ** 2) for _ in range(10)]
    settings = EmceeSettings(n_walkers=walkers, max_steps=4000, progress_figure=False)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        progress = EmceeProgress(tmp_path, settings, ["x"], warn=print)
        for i, (chain, log_prob) in enumerate(segments, 1):
            progress.observe(chain, log_prob, np.full(walkers, 100))
            progress.checkpoint(400 * i, [], [1.0])
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert progress._log_prob.array().shape[0] == progress_module.WATCH_ROWS
    component = estimate_emcee(walkers, 4000, 1, 20, False, 400, progress_figure=False).components["stuck_watch"]
    assert 0.8 * component <= peak / memory.MB <= component


def test_diagonal_errors_need_no_matrix():
    c = estimate_emcee(**dict(EMCEE, full_cov=False)).components
    assert c["cholesky"] == 0.0
    assert c["data_loading"] == pytest.approx(100 * 4000 / 1e6)


def test_total_is_the_larger_phase_plus_the_margin():
    est = estimate_emcee(**EMCEE)
    c = est.components
    sampling = sum(c.values()) - c["data_loading"]
    assert c["loading_residue"] == pytest.approx(0.3 * c["data_loading"])
    assert est.sampling_mb == pytest.approx(sampling) and est.sampling_mb > est.loading_mb
    assert est.total_mb == math.ceil(sampling * (1 + memory.SAFETY_MARGIN))
    assert isinstance(est.total_mb, int)
    # 2000 supernovae with a text covariance and a short chain: parsing the file is the peak.
    big = estimate_emcee(32, 1000, 1, 2000, True, 1000)
    loading = big.components["baseline"] + big.components["monitor"] + big.components["data_loading"]
    assert big.loading_mb == pytest.approx(loading) and big.loading_mb > big.sampling_mb
    assert big.total_mb == math.ceil(loading * (1 + memory.SAFETY_MARGIN))


def test_memory_table_has_a_column_per_sampler_and_a_row_per_component():
    emcee_est, dynesty_est = estimate_emcee(**EMCEE), estimate_dynesty(500, 2, 1000, True)
    lines = memory_table([emcee_est, dynesty_est]).splitlines()
    assert lines[1].split() == ["emcee", "dynesty"]
    rows = {cells[0]: cells[1:] for cells in (re.split(r"\s{2,}", line.strip()) for line in lines[2:])}
    for est, col in ((emcee_est, 0), (dynesty_est, 1)):
        for name, mb in est.components.items():
            assert rows[name][col] == f"{mb:.1f}"
        assert rows["total"][col] == str(est.total_mb)
    assert rows["segment_buffer"][1] == "-" and rows["live_points"][0] == "-"
    assert rows["whole chain in memory"] == [str(emcee_est.upper_bound_mb), "-"]


def test_seed_upper_bound():
    assert seed_upper_bound(100, 1000, 2) == math.ceil(100 * 1000 * 2 * 8 * 2.0 / 1e6 + BASELINE_MB)
    assert seed_upper_bound(100, 1000, 2, overhead=1.0) == math.ceil(1.6 + BASELINE_MB)
    assert estimate_emcee(**EMCEE).upper_bound_mb == seed_upper_bound(64, 10000, 2)


@pytest.mark.parametrize(
    "nlive, n_params, info, dlogz, measured",
    [
        # dynesty 3.1 static runs (dead points) on Gaussians, with their final information H.
        (500, 1, 2.43, 0.1, 2641),
        (500, 2, 4.98, 0.1, 4159),
        (500, 3, 7.58, 0.1, 5732),
        (500, 2, 9.55, 0.01, 7575),
        (500, 2, 4.98, 0.5, 3413),
        (2000, 3, 14.39, 0.01, 40959),
        (8000, 3, 11.69, 0.01, 142495),
    ],
)
def test_dynesty_iterations_match_measured_runs(nlive, n_params, info, dlogz, measured):
    dead = dynesty_iterations(nlive, n_params, info, dlogz) - nlive
    assert dead == pytest.approx(measured, rel=0.03)


@pytest.mark.parametrize("package", sorted(memory.MEASURED_WITH))
def test_the_installed_samplers_are_the_releases_the_constants_were_measured_on(package):
    installed = importlib.metadata.version(package)
    measured = memory.MEASURED_WITH[package]
    assert installed.split(".")[:2] == measured.split("."), (
        f"{package} {installed} is installed, but the memory estimator's constants were measured on {package} "
        f"{measured}: measure them again (python benchmarks/run.py, the memory rows) and update "
        "janusfit.resources.memory and the pins in pyproject.toml"
    )


def test_dynesty_components():
    c = estimate_dynesty(**DYNESTY).components
    points = dynesty_iterations(500, 2, 5.0, 0.1)
    assert points == math.ceil(500 * (5.0 + math.log(10) + 1.0 + 1.0))
    assert c["dead_points"] == pytest.approx(points * (1200 + 32) / 1e6)
    assert c["checkpoint_pickling"] == pytest.approx(points * (4600 + 64) / 1e6)
    assert c["live_points"] == pytest.approx(500 * 8 * 8 / 1e6)
    assert c["likelihood_temporaries"] == pytest.approx(8 * (4 * 180 + 2.5 * 100) / 1e6)
    assert estimate_dynesty(**DYNESTY).upper_bound_mb is None


def _increases(estimate, base: dict, key: str, bigger) -> None:
    low, high = estimate(**base), estimate(**dict(base, **{key: bigger}))
    assert high.total_mb >= low.total_mb, key
    assert sum(high.components.values()) > sum(low.components.values()), key


@pytest.mark.parametrize(
    "key, bigger",
    [
        ("n_walkers", 128),
        ("n_steps", 2000),
        ("n_params", 3),
        ("n_data", 200),
        ("full_cov", True),
        ("checkpoint_steps", 5000),
    ],
)
def test_emcee_monotonic(key, bigger):
    # Up to the stopping rule's 2048 lags the estimate grows with the chain; beyond, it stays (above).
    base = dict(EMCEE, n_steps=1000, full_cov=False, checkpoint_steps=100)
    _increases(estimate_emcee, base, key, bigger)


@pytest.mark.parametrize(
    "key, bigger",
    [
        ("nlive", 1000),
        ("n_params", 3),
        ("n_data", 200),
        ("full_cov", True),
        ("expected_information", 10.0),
    ],
)
def test_dynesty_monotonic(key, bigger):
    _increases(estimate_dynesty, dict(DYNESTY, full_cov=False), key, bigger)


def test_mem_mb_for_attempt():
    assert mem_mb_for_attempt(1000.2, 1) == 1001
    assert mem_mb_for_attempt(1000, 3) == 3000


def test_check_fits():
    check_fits(900, 1000, "this machine")
    with pytest.raises(ResourceError) as info:
        check_fits(2500.3, 2000, "Snakemake's mem_mb budget")
    message = str(info.value)
    for part in (
        "2501",
        "2000",
        "Snakemake's mem_mb budget",
        "emcee.n_walkers",
        "emcee.checkpoint.steps",
        "dynesty.nlive",
    ):
        assert part in message


def test_memory_budget_reads_a_lowered_grant_as_snakemakes_limit():
    # Without --resources mem_mb Snakemake grants what the job asked for: the machine is the limit.
    assert memory_budget(500, 500, machine_mb=24000) == (24000.0, "this machine")
    assert memory_budget(500, None, machine_mb=24000) == (24000.0, "this machine")
    assert memory_budget(500, 1000, machine_mb=24000) == (24000.0, "this machine")  # a retry asks for more
    assert memory_budget(500, 300, machine_mb=24000) == (300.0, "Snakemake's --resources mem_mb")
    assert memory_budget(500, 300, machine_mb=200) == (200.0, "this machine")
    assert memory_budget(500, None)[0] == memory.machine_memory_mb() > 0


@pytest.mark.slow
def test_baseline_constant_covers_a_fresh_job_process():
    # Fails when a new import makes every job bigger than BASELINE_MB says
    # (importing snakemake takes several seconds, hence slow).
    assert measure_baseline_mb() <= BASELINE_MB


# A process's peak RSS over what it holds once imported: reading a dataset's
# files, building its posterior and evaluating one batch on ``threads`` threads.
# The peak is VmHWM, this process image's own: ru_maxrss keeps the parent's
# size at the fork across exec, and a pytest worker can be larger than the child.
DATA_RISE = """
import json, sys
import numpy as np, psutil
from janusfit.likelihood import parallel
from janusfit.run import load_run

config, dataset, threads, batch = json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
parallel.use_threads(threads)
before = psutil.Process().memory_info().rss
_, posterior = load_run(config, dataset, "lcdm")
theta = np.column_stack([np.linspace(0.2, 0.4, batch), np.full(batch, 0.14), np.full(batch, 3.1)])
assert np.all(np.isfinite(posterior(theta)))
peak_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps((peak_kb * 1024 - before) / 1e6))
"""
# The components that hold the data and the likelihood (the rest are the
# interpreter's, the monitor's and the sampler's).
DATA_COMPONENTS = (
    "loading_residue",
    "covariance",
    "cholesky",
    "numba_kernels",
    "likelihood_temporaries",
    "systematic_matrices",
    "systematics_packed",
    "covariance_buffers",
)


@pytest.mark.parametrize("threads", [1, 2])
def test_the_systematic_matrices_of_light_curves_are_in_the_estimate(tmp_path, public_data, threads):
    """JLA's 740 light curves with six text systematic matrices, as the release ships them.

    Reading them (N² values of text each) and holding them, packed for the
    kernel, and a matrix C(α, β) per thread: 110–130 MB measured over the
    imports, which the estimate had left out (it read the dataset as diagonal).
    """
    import logging

    from release_configs import jla_light_curves
    from schema_defaults import with_defaults

    from janusfit.config import run_settings
    from janusfit.data.lightcurves import COVMAT_KEYS
    from janusfit.resources.requests import memory_estimate
    from janusfit.stages.data import inspect

    n = 740
    rng = np.random.default_rng(1)
    covmats = {}
    for key in COVMAT_KEYS:
        noise = rng.normal(scale=1e-6, size=(n, n))
        matrix = (noise + noise.T) / 2 + (0.01 * np.eye(n) if key == "v0" else 0.0)
        path = tmp_path / f"jla_{key}_covmatrix.dat"
        path.write_text(f"{n}\n" + "\n".join(f"{v:.17g}" for v in matrix.ravel()) + "\n")
        covmats[key] = str(path)
    config = with_defaults(
        {"datasets": {"jla740": {**jla_light_curves(public_data), "covmats": covmats}}, "models": ["lcdm"]}
    )
    data_json = tmp_path / "data.json"
    inspect(
        config=config,
        dataset="jla740",
        out_json=data_json,
        log=logging.getLogger("test_memory"),
    )
    batch = run_settings(config, "jla740", "lcdm").emcee.n_walkers
    done = subprocess.run(
        [sys.executable, "-c", DATA_RISE, json.dumps(config), "jla740", str(threads), str(batch)],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    rise = json.loads(done.stdout.strip().splitlines()[-1])
    components = memory_estimate(config, "jla740", "lcdm", "emcee", data_json, threads).components
    held = sum(components.get(name, 0.0) for name in DATA_COMPONENTS)
    assert rise <= max(components["data_loading"], held), (rise, components)
