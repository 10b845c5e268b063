import json
import math
import subprocess
import sys
import time

import numpy as np
import pytest

from janusfit.data.dataset import Dataset
from janusfit.likelihood import Posterior
from janusfit.models import get_model
from janusfit.resources.memory import dynesty_iterations
from janusfit.resources.runtime import (
    CALLS_PER_SLICE,
    DYNESTY_ITERATION_S,
    EMCEE_BOOKKEEPING,
    UNIF_CALLS_PER_ITERATION,
    calls_per_iteration,
    estimate_runtime_dynesty,
    estimate_runtime_emcee,
    runtime_for_attempt,
    time_likelihood,
    write_resources_json,
)
from janusfit.sampling.emcee_runner import EmceeSettings, time_steps


class SleepyPosterior:
    """Costs 2 ms per call whatever the batch, and counts its calls.

    The 2 ms pass on a clock of its own, which the timers read in place of
    ``time.perf_counter``: only the posterior's calls advance it, so what is
    timed is exact, whatever else loads the machine.
    """

    bounds = np.array([[0.0, 1.0], [-1.0, 1.0]])

    def __init__(self, monkeypatch):
        self.batches = []
        self.now = 0.0
        monkeypatch.setattr(time, "perf_counter", lambda: self.now)

    def __call__(self, theta):
        self.batches.append(theta.copy())
        self.now += 0.002
        return np.zeros(len(theta))


def test_time_likelihood_is_per_evaluation_after_a_warm_up(monkeypatch):
    post = SleepyPosterior(monkeypatch)
    t = time_likelihood(post, batch_size=10, repeats=5)
    assert len(post.batches) == 6 and len(post.batches[0]) == 60  # the warm-up call evaluates every draw
    assert t == pytest.approx(0.002 / 10, rel=1e-12)  # the warm-up call is not timed
    draws = np.concatenate(post.batches[1:])
    assert draws.shape == (50, 2)
    assert np.all((draws >= post.bounds[:, 0]) & (draws <= post.bounds[:, 1]))
    assert len(np.unique(draws[:, 0])) == 50


def test_time_likelihood_times_only_where_the_model_exists(public_data):
    """JANUS on JLA (z up to 1.3) with q0 in [-1, 0]: -inf below q0 = -0.38, at no cost; timed only above."""
    from janusfit.data import load_dataset

    jla = public_data / "jla"
    data = load_dataset(
        "jla",
        {
            "kind": "sn",
            "format": "jla_binned",
            "path": str(jla / "jla_mub.txt"),
            "cov": str(jla / "jla_mub_covmatrix.txt"),
        },
    )
    posterior = Posterior(get_model("janus"), [data], priors={"q0": [-1.0, 0.0]})
    timed = []
    original = Posterior.__call__

    class Recording(Posterior):
        def __call__(self, theta):
            timed.append(theta)
            return original(self, theta)

    posterior.__class__ = Recording
    time_likelihood(posterior, batch_size=16, repeats=3)
    assert np.all(np.isfinite(original(posterior, np.concatenate(timed[1:]))))
    assert not np.all(np.isfinite(original(posterior, timed[0])))  # the prior draws did leave the domain


def test_time_likelihood_on_a_real_posterior():
    z = np.linspace(0.05, 1.5, 50)
    ds = Dataset("sn", "sn", z, 5 * np.log10(z * (1 + z)), sigma=np.full(50, 0.1))
    t = time_likelihood(Posterior(get_model("lcdm"), [ds]), batch_size=16, repeats=3)
    assert 0 < t < 0.1


def test_emcee_runtime():
    assert estimate_runtime_emcee(step_s=0.03, max_steps=1000, overhead_s=6) == pytest.approx(
        (1000 * 0.03 * EMCEE_BOOKKEEPING + 6) / 60
    )


def test_timed_steps_cost_the_likelihood_and_more(monkeypatch):
    """A step of 32 walkers calls a 2 ms likelihood twice (two halves of 16): 4 ms; 20 of them at least.

    The walkers start in a small ball, as a converged ensemble is.
    """
    posterior = SleepyPosterior(monkeypatch)
    posterior.ndim, posterior.param_names = 2, ["a", "b"]
    step_s = time_steps(posterior, EmceeSettings(n_walkers=32, max_steps=1000), min_steps=20, min_s=0.01)
    # Prior draws, their posterior, the ball's, emcee's first evaluation of it, then two halves a step.
    warm_up = 4 + 2 * 5
    assert len(posterior.batches) >= warm_up + 2 * 20 and {len(b) for b in posterior.batches[4:]} == {16}
    width = posterior.bounds[:, 1] - posterior.bounds[:, 0]
    assert np.all(np.ptp(posterior.batches[3], axis=0) < 1e-2 * width)
    # Timed after the warm-up, over the 20 steps that ran past min_s = 10 ms of the posterior's clock.
    assert len(posterior.batches) == warm_up + 2 * 20 and step_s == pytest.approx(0.004, rel=1e-12)


def test_process_age_counts_from_the_start_of_the_process():
    """A child process's age: at least its own sleep, and less than the parent has waited for it."""
    code = "import time; time.sleep(0.5); from janusfit.resources.runtime import process_age_s; print(process_age_s())"
    start = time.time()
    age = float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert 0.5 <= age <= time.time() - start


def test_calls_per_iteration():
    assert calls_per_iteration("unif", 2) == UNIF_CALLS_PER_ITERATION
    assert calls_per_iteration("auto", 3) == UNIF_CALLS_PER_ITERATION
    assert calls_per_iteration("rwalk", 3, walks=40) == 40
    assert calls_per_iteration("rwalk", 3) == 23  # dynesty's default walks: ndim + 20
    assert calls_per_iteration("auto", 15) == 35
    assert calls_per_iteration("slice", 3, slices=5) == CALLS_PER_SLICE * 15
    assert calls_per_iteration("slice", 2) == CALLS_PER_SLICE * 6
    assert calls_per_iteration("rslice", 2) == CALLS_PER_SLICE * 5  # default slices: 3 + ndim
    assert calls_per_iteration("auto", 25) == CALLS_PER_SLICE * 28
    with pytest.raises(ValueError, match="hslice"):
        calls_per_iteration("hslice", 2)


def test_dynesty_runtime():
    iterations = dynesty_iterations(500, 2, 5.0, 0.1) - 500  # the final live points are no iterations
    minutes = estimate_runtime_dynesty(1e-3, 500, 2, 5.0, sample="rwalk", walks=20, overhead_s=30)
    calls = 500 + iterations * 20
    assert minutes == pytest.approx((calls * 1e-3 + iterations * DYNESTY_ITERATION_S + 30) / 60)
    assert estimate_runtime_dynesty(1e-3, 1000, 2, 5.0, sample="rwalk", walks=20, overhead_s=30) > minutes
    assert estimate_runtime_dynesty(1e-3, 500, 2, 9.0, sample="rwalk", walks=20, overhead_s=30) > minutes
    assert estimate_runtime_dynesty(1e-3, 500, 2, 5.0, sample="slice", slices=6, overhead_s=30) > minutes


def test_recorded_runtime_times_attempt(tmp_path):
    path = tmp_path / "resources.json"
    write_resources_json(path, {"runtime_minutes": 12.3, "mem_mb": 800})
    assert json.loads(path.read_text()) == {"runtime_minutes": 12.3, "mem_mb": 800}
    assert [p.name for p in tmp_path.iterdir()] == ["resources.json"]
    assert runtime_for_attempt(path, 60, 1) == 13
    assert runtime_for_attempt(path, 60, 3) == math.ceil(12.3 * 3)


def test_recorded_runtime_of_a_section(tmp_path):
    path = tmp_path / "resources.json"
    write_resources_json(path, {"emcee": {"runtime_minutes": 4.2}, "dynesty": {"runtime_minutes": 30.5}})
    assert runtime_for_attempt(path, 60, 1, section="emcee") == 5
    assert runtime_for_attempt(path, 60, 2, section="dynesty") == 61
    assert runtime_for_attempt(path, 60, 1, section="ultranest") == 60
    assert runtime_for_attempt(path, 60, 1) == 60  # no top-level estimate


@pytest.mark.parametrize(
    "content",
    [
        None,
        "",
        "{",
        "[1, 2]",
        "null",
        '{"mem_mb": 5}',
        '{"runtime_minutes": "soon"}',
        '{"runtime_minutes": -4}',
        '{"runtime_minutes": NaN}',
        '{"runtime_minutes": null}',
        "\x00\xff",
    ],
)
def test_bad_or_missing_record_falls_back_to_config(tmp_path, content):
    path = tmp_path / "resources.json"
    if content is not None:
        path.write_text(content, errors="surrogateescape")
    assert runtime_for_attempt(path, 60, 2) == 120


def test_no_record_and_odd_attempts():
    assert runtime_for_attempt(None, 45, 1) == 45
    assert runtime_for_attempt(None, 45, 0) == 45
    assert runtime_for_attempt(None, 0.2, 1) == 1
    assert runtime_for_attempt("/nonexistent/dir/resources.json", 30, 2) == 60


def test_a_three_parameter_light_curve_fit_is_timed_for_the_iterations_it_takes(tmp_path, public_data):
    """JLA's 740 light curves, α and β sampled beside Ωm: H is 7.4 nats, above the 0.8–2.7 of the
    one- and two-parameter fits, and the run takes the iterations of its information."""
    from release_configs import jla_light_curves

    from janusfit.data import load_dataset
    from janusfit.sampling.domain import domain_settings
    from janusfit.sampling.dynesty_runner import DynestySettings, run_dynesty
    from janusfit.sampling.fingerprint import make_fingerprint
    from janusfit.sampling.session import CheckpointSession

    posterior = Posterior(get_model("lcdm"), [load_dataset("jla740", jla_light_curves(public_data))])
    settings = DynestySettings(nlive=60, seed=1)
    fingerprint = make_fingerprint(posterior, "dynesty", {**settings.chain_settings(), **domain_settings(posterior)})
    with CheckpointSession(tmp_path, fingerprint, log=lambda _: None) as session:
        result, _ = run_dynesty(posterior, settings, session, log=lambda _: None)
    # The estimate with free calls and no start: its iterations times their own work.
    minutes = estimate_runtime_dynesty(0.0, 60, posterior.ndim, dlogz=settings.dlogz, overhead_s=0.0)
    assert posterior.ndim == 3 and result.information > 5
    assert result.n_iter <= minutes * 60 / DYNESTY_ITERATION_S
