"""τ of a growing chain in bounded memory: exactly emcee's τ of the whole chain, at any length.

The stopping rule once kept a thinned copy of the chain (at most 20,000 rows,
thinning by k = 2, 4, 8, ... as it grew) and reported k·τ(thinned), which
cannot go below k: an AR(1) chain of τ = 4 read 5.35 at 40,500 steps and 32 at
609,200. These tests run synthetic AR(1) chains of known τ, and a real emcee
run, well past that length.
"""

import numpy as np
import pytest
from emcee.autocorr import integrated_time
from scipy.signal import lfilter

from janusfit.sampling.autocorr import BLOCK, AutocorrTime, _fast_length
from janusfit.sampling.emcee_runner import EmceeSettings, converged_at_check, run_emcee
from janusfit.sampling.fingerprint import make_fingerprint
from janusfit.sampling.session import CheckpointSession

OLD_THIN_MAX_ROWS = 20000  # the thinned copy's size: past it, the old τ was biased


def ar1_chain(tau: float, n_steps: int, n_walkers: int, seed: int) -> np.ndarray:
    """Stationary AR(1) walkers of unit variance and integrated autocorrelation time τ = (1 + ρ)/(1 − ρ)."""
    rho = (tau - 1.0) / (tau + 1.0)
    rng = np.random.default_rng(seed)
    noise = rng.normal(scale=np.sqrt(1.0 - rho**2), size=(n_steps, n_walkers, 1))
    noise[0] = rng.normal(size=(n_walkers, 1))
    return lfilter([1.0], [1.0, -rho], noise, axis=0)


def feed(estimator: AutocorrTime, chain: np.ndarray, rng: np.random.Generator) -> None:
    """Append ``chain`` in pieces of random length, as interrupted and timed segments cut it."""
    at = 0
    while at < len(chain):
        k = int(rng.integers(1, 1300))
        estimator.append(chain[at : at + k])
        at += k


@pytest.mark.parametrize(
    "n_steps, max_lag", [(3000, 2048), (3000, 700), (12_345, 1000), (7, 2048), (3 * BLOCK + 1, 200)]
)
def test_tau_is_emcees_estimate_of_the_whole_chain(n_steps, max_lag):
    rng = np.random.default_rng(n_steps + max_lag)
    # Three parameters of τ = 3, 10 and 25, one offset as H0 is.
    chain = np.concatenate(
        [ar1_chain(t, n_steps, 6, seed=n_steps + i) for i, t in enumerate((3.0, 10.0, 25.0))], axis=2
    )
    chain[:, :, 2] += 70.0
    estimator = AutocorrTime(max_lag)
    feed(estimator, chain, rng)
    tau, resolved = estimator.tau()
    assert resolved.all()
    np.testing.assert_allclose(tau, integrated_time(chain, tol=0, quiet=True), rtol=1e-10)


def test_tau_does_not_depend_on_how_the_chain_was_cut():
    """Blocks end at fixed iterations, so a resumed run takes bit for bit the decisions of an uninterrupted one."""
    chain = ar1_chain(6.0, 4321, 16, seed=3)
    results = []
    for seed in range(4):
        estimator = AutocorrTime(512)
        feed(estimator, chain, np.random.default_rng(seed))
        results.append(estimator.tau()[0])
    whole = AutocorrTime(512)
    whole.append(chain)
    for tau in results:
        np.testing.assert_array_equal(tau, whole.tau()[0])


def test_a_window_beyond_max_lag_is_reported_unresolved_as_a_lower_bound():
    chain = ar1_chain(80.0, 6000, 8, seed=5)
    estimator = AutocorrTime(100)
    estimator.append(chain)
    tau, resolved = estimator.tau()
    assert not resolved[0]
    assert (100 - 1) / 5 < tau[0] < 80.0


@pytest.mark.parametrize("true_tau", [2.0, 4.0, 20.0])
def test_ar1_tau_within_10_percent_at_every_check_past_four_times_the_old_copy(true_tau):
    n_steps = 4 * OLD_THIN_MAX_ROWS + 2 * BLOCK
    chain = ar1_chain(true_tau, n_steps, 32, seed=int(true_tau))
    estimator, checked = AutocorrTime(), []
    for it in range(BLOCK, n_steps + 1, BLOCK):
        estimator.append(chain[it - BLOCK : it])
        if it >= OLD_THIN_MAX_ROWS:
            tau, resolved = estimator.tau()
            assert resolved[0]
            checked.append(tau[0])
    assert len(checked) == (n_steps - OLD_THIN_MAX_ROWS) // BLOCK + 1
    np.testing.assert_allclose(checked, true_tau, rtol=0.10)


def stop_length(chain, settings, tau_of) -> int | None:
    """Where the runner's stopping rule stops ``chain``, fed one check interval at a time to ``tau_of``."""
    last = np.full(chain.shape[2], np.nan)
    for it in range(settings.check_every, len(chain) + 1, settings.check_every):
        tau, resolved = tau_of(chain[:it], chain[it - settings.check_every : it])
        if converged_at_check(it, tau, resolved, last, settings):
            return it
        last = tau
    return None


@pytest.mark.parametrize("seed", range(4))
def test_stopping_rule_on_tau_4_stops_within_twice_the_ideal_length(seed):
    """The ideal is where the same rule stops with emcee's τ of the whole chain held in memory.

    The bounded estimator keeps 100 lags while the chain runs to tens of
    thousands of steps; it must stop as soon (here: at the same check).
    """
    settings = EmceeSettings(n_walkers=32, max_steps=60_000, n_over_tau=50, tau_rel_change=0.01, check_every=500)
    chain = ar1_chain(4.0, settings.max_steps, 32, seed=seed)
    ideal = stop_length(
        chain, settings, lambda so_far, _: (integrated_time(so_far, tol=0, quiet=True), np.ones(1, dtype=bool))
    )
    bounded = AutocorrTime(100)

    def tau_of(_, new):
        bounded.append(new)
        return bounded.tau()

    stopped = stop_length(chain, settings, tau_of)
    assert ideal is not None and stopped is not None
    assert stopped <= 2 * ideal
    assert ideal >= settings.n_over_tau * 4.0


def test_run_emcee_reports_the_whole_chain_tau_past_the_old_thinning(tmp_path, public_data):
    """run.json's τ past 20,000 steps, where the thinned copy began to thin (by 2: about 1.04 × the truth)."""
    from janusfit.data import load_dataset
    from janusfit.likelihood import Posterior
    from janusfit.models import get_model
    from janusfit.stages.diagnose import read_chain

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
    posterior = Posterior(get_model("lcdm"), [data])
    settings = EmceeSettings(
        n_walkers=8,
        max_steps=OLD_THIN_MAX_ROWS + 500,
        checkpoint_steps=5000,
        check_every=5000,
        stop_on_convergence=False,
    )
    fingerprint = make_fingerprint(posterior, "emcee", settings.chain_settings())
    with CheckpointSession(tmp_path / "ck", fingerprint, log=lambda m: None) as session:
        result = run_emcee(posterior, settings, session, tmp_path / "chain.h5", log=lambda m: None)
    chain, _, _ = read_chain(tmp_path / "chain.h5")
    assert len(chain) == settings.max_steps
    np.testing.assert_allclose(result.tau, integrated_time(chain, tol=0, quiet=True), rtol=1e-9)
    assert result.tau_resolved == [True]


def test_fast_length_is_the_next_5_smooth_number():
    for n in [1, 2, 7, 97, 1000, 39999, 65537]:
        length = _fast_length(n)
        assert length >= n
        assert _smooth(length)
        assert all(not _smooth(m) for m in range(n, length))


def _smooth(m: int) -> bool:
    for p in (2, 3, 5):
        while m % p == 0:
            m //= p
    return m == 1
