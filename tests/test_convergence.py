"""Convergence diagnostics against cases with known answers and against ArviZ."""

import json
import math
import re
import warnings

import arviz as az
import emcee
import numpy as np
import pytest
from scipy.signal import lfilter

from janusfit.diagnostics import autocorr_time, diagnose, ess_bulk, ess_tail, group_walkers, split_rhat
from janusfit.diagnostics.convergence import walker_deficits
from janusfit.errors import ConfigError


def ar1(rho, n_steps, n_walkers, seed):
    """Stationary AR(1) walkers of unit variance, shape (n_steps, n_walkers)."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(scale=np.sqrt(1.0 - rho**2), size=(n_steps, n_walkers))
    noise[0] = rng.normal(size=n_walkers)
    return lfilter([1.0], [1.0, -rho], noise, axis=0)


def test_iid_draws_have_rhat_one_and_ess_equal_to_the_draws():
    draws = np.random.default_rng(0).normal(size=(2000, 32))
    groups = group_walkers(draws)
    assert abs(split_rhat(groups) - 1.0) < 0.01
    assert ess_bulk(groups) == pytest.approx(draws.size, rel=0.15)
    assert ess_tail(groups) == pytest.approx(draws.size, rel=0.15)


@pytest.mark.parametrize("rho", [0.5, 0.9])
def test_ar1_ess_matches_its_autocorrelation(rho):
    x = ar1(rho, 5000, 32, seed=1)
    expected = x.size * (1.0 - rho) / (1.0 + rho)
    assert ess_bulk(group_walkers(x)) == pytest.approx(expected, rel=0.15)


@pytest.mark.parametrize(("n_over_tau", "expected"), [(10, 1.10), (50, 1.04)])
def test_short_chains_of_known_tau_are_not_given_more_ess_than_their_draws_are_worth(n_over_tau, expected):
    """32 independent AR(1) walkers of τ = 50 in 4 groups: the ESS of their draws is 32 n / 50.

    Each walker's autocovariance about its own mean lost the spread of the walkers' means: 1.67 and 1.17
    times the draws' worth at 10 and 50 τ (the shortest chain that passes). About the group's mean the ratios
    are ArviZ's on these chains, 1.10 and 1.04 (its estimator's own small-sample bias); 20 seeds, sd 0.02.
    """
    tau = 50.0
    rho = (tau - 1.0) / (tau + 1.0)
    n = int(n_over_tau * tau)
    ratios = [ess_bulk(group_walkers(ar1(rho, n, 32, seed))) / (32 * n / tau) for seed in range(20)]
    assert np.mean(ratios) == pytest.approx(expected, abs=0.05)


def test_groups_split_walkers_contiguously_even_when_uneven():
    x = np.arange(30.0).reshape(3, 10)
    groups = group_walkers(x, n_groups=4)
    assert [g.shape[1] for g in groups] == [3, 3, 2, 2]
    np.testing.assert_array_equal(np.hstack(groups), x)
    assert len(group_walkers(x[:, :2], n_groups=4)) == 2


def test_too_short_chains_are_undefined_not_an_error():
    groups = group_walkers(np.zeros((3, 8)))
    assert np.isnan(split_rhat(groups)) and np.isnan(ess_bulk(groups)) and np.isnan(ess_tail(groups))


def test_shifted_group_fails_rhat_and_names_the_parameter():
    rng = np.random.default_rng(2)
    chain = rng.normal(size=(2000, 32, 2))
    chain[:, 24:, 0] += 1.0  # the last group of walkers sits elsewhere in Om only
    log_prob = -0.5 * np.sum(rng.normal(size=(2000, 32, 2)) ** 2, axis=2)
    report = diagnose(chain, log_prob, np.full(32, 600), ["Om", "w"], burn_in=0)
    assert report["parameters"]["Om"]["rhat"] > 1.05
    assert report["parameters"]["w"]["rhat"] < 1.01
    assert not report["passed"]
    rhat = [f for f in report["failures"] if f.startswith("R-hat")]
    assert len(rhat) == 1
    assert rhat[0].startswith("R-hat of Om is 1.") and rhat[0].endswith("(threshold < 1.01)")
    # between-group disagreement also inflates the autocorrelation, so Om's ESS collapses too
    assert not any(" of w " in f for f in report["failures"])


def test_report_is_plain_json_and_thresholds_apply():
    rng = np.random.default_rng(4)
    chain = ar1(0.5, 400, 8, seed=4)[:, :, None]
    report = diagnose(
        chain,
        rng.normal(size=(400, 8)),
        np.full(8, 100),
        ["Om"],
        thresholds={"min_ess_bulk": 1e9, "acceptance": [0.3, 0.6]},
    )
    json.dumps(report, allow_nan=False)
    assert report["burn_in_rule"].startswith("10 x max tau (rounded up), at most half the chain")
    assert report["burn_in"] == int(np.ceil(10 * report["parameters"]["Om"]["tau"]))
    assert report["n_kept_steps"] == 400 - report["burn_in"]
    assert report["thresholds"]["max_rhat"] == 1.01
    assert report["acceptance"] == {"mean": 0.25, "min": 0.25, "max": 0.25}
    failed = {(c["check"], c["parameter"]) for c in report["checks"] if not c["passed"]}
    assert failed == {("ess_bulk", "Om"), ("acceptance", None)}
    assert "mean acceptance fraction is 0.25 (threshold 0.3 to 0.6)" in report["failures"]


def test_unknown_threshold_is_a_config_error():
    with pytest.raises(ConfigError, match="thresholds.max_r_hat"):
        diagnose(np.zeros((10, 4, 1)), np.zeros((10, 4)), np.zeros(4), ["Om"], thresholds={"max_r_hat": 1.1})


@pytest.fixture(scope="module")
def gaussian_run():
    """emcee on a correlated 2-d Gaussian, seeded.

    The stretch scale a = 5 brings the acceptance to about 0.43: with the
    default a = 2 a 2-d target accepts about 70% of moves, above the
    0.2-0.5 rule of thumb, which is meant for higher dimensions.
    """
    icov = np.linalg.inv([[1.0, 0.6], [0.6, 2.0]])

    def log_prob(x):
        return -0.5 * np.einsum("ij,jk,ik->i", x, icov, x)

    sampler = emcee.EnsembleSampler(32, 2, log_prob, vectorize=True, moves=emcee.moves.StretchMove(a=5.0))
    sampler.random_state = np.random.RandomState(1).get_state()
    sampler.run_mcmc(0.1 * np.random.default_rng(1).normal(size=(32, 2)), 3000)
    return sampler


def test_emcee_gaussian_run_passes_every_check(gaussian_run):
    s = gaussian_run
    report = diagnose(s.get_chain(), s.get_log_prob(), s.backend.accepted, ["x", "y"])
    assert report["passed"], report["failures"]
    assert report["failures"] == []
    assert all(c["passed"] for c in report["checks"])
    tau = [report["parameters"][p]["tau"] for p in ("x", "y")]
    np.testing.assert_allclose(tau, s.get_autocorr_time(tol=0), rtol=1e-12)
    np.testing.assert_allclose(autocorr_time(s.get_chain()), s.get_autocorr_time(tol=0), rtol=1e-12)
    assert report["acceptance"]["mean"] == pytest.approx(s.acceptance_fraction.mean())
    draws = report["n_kept_draws"]
    for p, t in zip(("x", "y"), tau):
        assert report["parameters"][p]["ess_bulk"] == pytest.approx(draws / t, rel=0.3)


@pytest.mark.parametrize(
    ("n_steps", "rho", "n_chains"),
    [(1000, 0.0, 4), (1001, 0.9, 4), (200, -0.5, 4), (31, 0.99, 3), (8, 0.5, 2)],
)
def test_one_walker_per_group_is_exactly_arviz(n_steps, rho, n_chains):
    x = ar1(rho, n_steps, n_chains, seed=5)
    x[:, -1] += 0.3
    groups = group_walkers(x, n_groups=n_chains)
    chains = x.T  # arviz: (chain, draw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = (az.rhat(chains, method="rank"), az.ess(chains, method="bulk"), az.ess(chains, method="tail"))
    got = (split_rhat(groups), ess_bulk(groups), ess_tail(groups))
    np.testing.assert_allclose(got, expected, rtol=1e-10)


def stuck_walker_run(seed):
    """emcee (DE moves, as janusfit runs it) on a 2-d Gaussian with a narrow local mode.

    The mode sits 30 units out and 2 below the peak in ln p; walker 7 starts
    in it. DE proposals from it are built from the other walkers' small
    differences, so it explores its mode and never crosses the valley.
    """
    icov = np.linalg.inv([[1.0, 0.6], [0.6, 2.0]])
    far = np.array([30.0, 0.0])

    def log_prob(x):
        peak = -0.5 * np.einsum("ij,jk,ik->i", x, icov, x)
        local = -2.0 - 0.5 * np.sum((x - far) ** 2, axis=1) / 0.01
        return np.logaddexp(peak, local)

    start = 3.0 * np.random.default_rng(seed).normal(size=(32, 2))
    start[7] = far
    sampler = emcee.EnsembleSampler(32, 2, log_prob, vectorize=True, moves=emcee.moves.DEMove())
    sampler.random_state = np.random.RandomState(seed).get_state()
    sampler.run_mcmc(start, 1000)
    return sampler


def test_one_stuck_walker_fails_convergence_although_the_grouped_rhat_passes():
    s = stuck_walker_run(seed=1)
    report = diagnose(s.get_chain(), s.get_log_prob(), s.backend.accepted, ["x", "y"])
    # What the walker groups see: R-hat passes; the bulk ESS of x falls to a tenth of y's, since the stuck
    # walker, 30 units out for all its draws, is most of its group's spread about the group's mean.
    assert all(c["passed"] for c in report["checks"] if c["check"] == "rhat")
    assert report["log_prob"]["rhat"] < 1.01
    assert report["parameters"]["x"]["ess_bulk"] < 400 < report["parameters"]["y"]["ess_bulk"] / 5
    assert not report["passed"]
    assert report["log_prob"]["stuck_walkers"] == [7]
    ess, walker = report["failures"]
    assert walker.startswith("ln p deficit in standard errors of walker 7 is ")
    assert walker.endswith("(threshold -6 to 6; below the others is positive)")
    assert ess.startswith("bulk ESS of x is ")
    assert report["log_prob"]["max_walker_deficit"] > 6


@pytest.mark.parametrize("rho", [0.0, 0.5, 0.9])
def test_walker_deficits_of_converged_walkers_are_standard_normal(rho):
    """AR(1) walkers of known τ, ln p = −x²/2 (skewed): the deficits have mean 0, sd 1."""
    deficits = np.concatenate([walker_deficits(-0.5 * ar1(rho, 1000, 32, seed) ** 2) for seed in range(20)])
    # Each seed's deficits are measured from its median walker: their mean is that walker's offset from the
    # walkers' mean, sd √((π/2 − 1)/32) = 0.13 a seed, 0.03 over 20.
    assert abs(deficits.mean()) < 0.1
    assert deficits.std() == pytest.approx(1.0, abs=0.1)
    assert deficits.max() < 6


def gaussian_emcee_run(ndim, n_steps, seed):
    """emcee (DE moves, 32 walkers, as janusfit runs it) on a correlated d-dimensional Gaussian, from a small ball."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(ndim, ndim))
    icov = np.linalg.inv(a @ a.T + ndim * np.eye(ndim))

    def log_prob(x):
        return -0.5 * np.einsum("ij,jk,ik->i", x, icov, x)

    sampler = emcee.EnsembleSampler(32, ndim, log_prob, vectorize=True, moves=emcee.moves.DEMove())
    sampler.random_state = np.random.RandomState(seed).get_state()
    sampler.run_mcmc(1e-2 * rng.normal(size=(32, ndim)), n_steps)
    return sampler


@pytest.mark.slow
@pytest.mark.parametrize(("ndim", "n_steps"), [(2, 1000), (2, 3000), (5, 1000), (5, 3000)])
def test_the_walker_threshold_never_fires_on_150_converged_emcee_runs(ndim, n_steps):
    """The threshold's false alarms, on real emcee chains: none in 150 seeds, and the deficits' spread is ~1."""
    names = [f"x{i}" for i in range(ndim)]
    deficits = []
    for seed in range(150):
        s = gaussian_emcee_run(ndim, n_steps, seed)
        report = diagnose(s.get_chain(), s.get_log_prob(), s.backend.accepted, names)
        deficits.append(walker_deficits(s.get_log_prob()[report["burn_in"] :]))
        assert report["log_prob"]["stuck_walkers"] == [], (seed, report["log_prob"])
    deficits = np.concatenate(deficits)
    print(f"d={ndim}, {n_steps} steps: largest |deficit| {np.abs(deficits).max():.2f}, sd {deficits.std():.2f}")
    assert np.abs(deficits).max() < 6 and 0.8 < deficits.std() < 1.25


@pytest.mark.parametrize("seed", range(8))
def test_the_stuck_walker_is_found_whatever_the_seed(seed):
    s = stuck_walker_run(seed)
    report = diagnose(s.get_chain(), s.get_log_prob(), s.backend.accepted, ["x", "y"])
    assert report["log_prob"]["stuck_walkers"] == [7]
    assert not report["passed"]


def spike_run(seed):
    """emcee (DE moves) on a 2-d Gaussian with a narrow mode above it: σ 1e-3 and ln p 8 higher, 0.3 % of the mass.

    Walker 5 starts in the spike; the others' differences propose no move it accepts for thousands of steps
    (an audit's run: 6505 steps at seed 1, 2.5 % of the kept draws in the spike, the mean of x 3.3 standard
    errors off, and every check passed).
    """
    peak = np.array([1.0, 1.0])

    def log_prob(x):
        return np.logaddexp(-0.5 * np.sum(x**2, axis=1), 8.0 - 0.5 * np.sum((x - peak) ** 2, axis=1) / 1e-6)

    start = np.random.default_rng(seed).normal(size=(32, 2))
    start[5] = peak
    sampler = emcee.EnsembleSampler(32, 2, log_prob, vectorize=True, moves=emcee.moves.DEMove())
    sampler.random_state = np.random.RandomState(seed).get_state()
    sampler.run_mcmc(start, 10000)
    return sampler


def test_a_walker_stuck_above_the_others_in_ln_p_fails_convergence():
    s = spike_run(seed=1)
    report = diagnose(s.get_chain(), s.get_log_prob(), s.backend.accepted, ["x", "y"])
    assert report["log_prob"]["stuck_walkers"] == [5]
    assert not report["passed"] and report["log_prob"]["max_walker_deficit"] < -6
    (failure,) = report["failures"]
    assert failure.startswith("ln p deficit in standard errors of walker 5 is -")
    assert failure.endswith("(threshold -6 to 6; below the others is positive)")


def test_a_walker_stuck_above_is_named_and_the_others_are_not():
    """Ranks over all walkers: one walker holding the top ranks pushes every other's scores down.

    Measured from the median walker, the others stay near zero (measured from zero, up to 7.4 here).
    """
    x = ar1(2 / 3, 20000, 32, seed=5)
    x[:, 3] = 0.05 * ar1(2 / 3, 20000, 1, seed=6)[:, 0]  # walker 3 barely moves, at the peak
    deficits = walker_deficits(-0.5 * x**2)
    assert deficits[3] < -6
    assert np.abs(np.delete(deficits, 3)).max() < 4
    report = diagnose(x[:, :, None], -0.5 * x**2, np.full(32, 6000), ["x"])
    assert report["log_prob"]["stuck_walkers"] == [3]


@pytest.mark.parametrize("where", ["its first draw", "the median ln p"])
def test_a_walker_that_never_moves_is_named_and_the_others_are_not(where):
    """Walker 9 accepts no move after the burn-in: its ranks have no autocorrelation (0/0).

    That NaN made every deficit NaN: the failure named walker 0 as "undefined", stuck_walkers was empty, and
    the live watch warned of nothing. τ is now the moving walkers', and a walker whose ln p never changes is
    stuck wherever it sits: at the median ln p its deficit alone would pass.
    """
    x = ar1(2 / 3, 4000, 32, seed=3)
    others = np.delete(-0.5 * x[2000:] ** 2, 9, axis=1)
    x[:, 9] = x[0, 9] if where == "its first draw" else np.sqrt(-2.0 * np.median(others))
    accepted = np.full(32, 1600)
    accepted[9] = 0
    report = diagnose(x[:, :, None], -0.5 * x**2, accepted, ["x"])
    deficits = walker_deficits(-0.5 * x[report["burn_in"] :] ** 2)
    assert np.isfinite(deficits).all() and np.abs(np.delete(deficits, 9)).max() < 4
    assert report["log_prob"]["stuck_walkers"] == [9] and report["log_prob"]["frozen_walkers"] == [9]
    assert not report["passed"]
    assert "moves in the kept steps of walker 9 is 0 (threshold > 0; its ln p never changed)" in report["failures"]
    assert not any("walker 0" in f or "undefined" in f for f in report["failures"])
    if where == "the median ln p":
        assert abs(deficits[9]) < 1


def test_a_walker_arriving_after_the_burn_in_of_10_tau_extends_it():
    """The audit's case, in a chain of known τ = 5: one walker 10 σ out for 400 steps, past the 10 τ burn-in.

    Every check passed and the kept draws' sd was 1.0275 for a unit variance: the walker test of the whole
    kept chain averages 400 early steps of one walker away.
    """
    x = ar1(2 / 3, 20000, 32, seed=3)
    x[:400, 7] -= 10.0
    report = diagnose(x[:, :, None], -0.5 * x**2, np.full(32, 6000), ["x"])
    assert report["passed"] and report["burn_in"] == 500  # the end of the last window (200 steps) it was seen in
    assert re.search(
        r"; extended to step 500: walker 7 was \d+\.\d standard errors below the others in ln p over steps "
        r"300-500, still arriving$",
        report["burn_in_rule"],
    )
    assert x[report["burn_in"] :].std() == pytest.approx(1.0, abs=0.005)
    # Converged walkers extend nothing.
    x = ar1(2 / 3, 20000, 32, seed=3)
    assert "extended" not in diagnose(x[:, :, None], -0.5 * x**2, np.full(32, 6000), ["x"])["burn_in_rule"]


def test_the_error_of_an_sd_follows_the_tails_of_the_posterior():
    """The audit's case: wCDM's w (kurtosis 4.6) failed the exact cross-check of its sd on converged chains,
    the Gaussian sd/√(2 ESS) being too small. Student t (ν = 6, kurtosis 6) and AR(1) chains of known sd."""
    from janusfit.diagnostics.convergence import sd_error
    from janusfit.diagnostics.quadrature import cross_check

    nu, true = 6, math.sqrt(6 / 4)
    heavy = [np.random.default_rng(seed).standard_t(nu, size=(500, 32)) for seed in range(200)]
    pulls = [(x.std() - true) / sd_error(x) for x in heavy]
    gaussian = [(x.std() - true) / (x.std() / math.sqrt(2 * x.size)) for x in heavy]
    assert 0.85 < np.sqrt(np.mean(np.square(pulls))) < 1.25
    assert np.sqrt(np.mean(np.square(gaussian))) > 1.4  # what the cross-check used before
    correlated = [(x.std() - 1.0) / sd_error(x) for x in (ar1(0.9, 2000, 32, seed) for seed in range(100))]
    assert 0.8 < np.sqrt(np.mean(np.square(correlated))) < 1.3
    exact = {"parameters": {"w": {"mean": 0.0, "sd": 1.0}}, "status": "converged", "logz": 0.0, "logz_err": 0.0}
    emcee = {"w": {"mean": 0.0, "sd": 1.1}}
    assert cross_check(exact, parameters=emcee, ess={"w": 1000}, sd_errors={"w": 0.05})["passed"]
    assert not cross_check(exact, parameters=emcee, ess={"w": 1000})["passed"]


def test_walker_deficits_of_short_or_constant_chains():
    assert np.isnan(walker_deficits(np.zeros((3, 8)))).all()
    np.testing.assert_array_equal(walker_deficits(np.ones((100, 8))), np.zeros(8))


def test_the_walker_threshold_applies():
    x = ar1(0.5, 2000, 32, seed=6)
    report = diagnose(x[:, :, None], -0.5 * x**2, np.full(32, 600), ["Om"], thresholds={"max_walker_deficit": 1e-3})
    assert report["thresholds"]["max_walker_deficit"] == 1e-3
    assert not report["passed"] and len(report["log_prob"]["stuck_walkers"]) > 1
