"""Likelihoods and the posterior against brute-force computations and published fits.

Datasets are built here directly from the public releases in tests/data
(see MANIFEST.md) with numpy/pandas, independently of janusfit's loaders.

Published references:
- JLA binned, flat ΛCDM: Ωm = 0.295 ± 0.034 (Betoule et al. 2014, A&A 568, A22);
- Union3 binned, flat ΛCDM: Ωm = 0.356 (+0.028 −0.026) (Rubin et al. 2023, arXiv:2311.12098).
"""

from __future__ import annotations

import math
import pickle

import mpmath
import numpy as np
import pandas as pd
import pytest
from scipy.integrate import quad

from janusfit.data.dataset import Dataset
from janusfit.errors import LikelihoodError
from janusfit.likelihood import H0_PRIOR, HzLikelihood, Posterior, SNLikelihood
from janusfit.models import MODELS, Model, get_model

# ---------------------------------------------------------------- real data, read here


@pytest.fixture(scope="module")
def jla(public_data):
    table = pd.read_csv(public_data / "jla" / "jla_mub.txt")
    assert list(table.columns) == ["z", "mu"] and len(table) == 31
    path = public_data / "jla" / "jla_mub_covmatrix.txt"
    with open(path) as fh:
        assert fh.readline().strip() == "COV"
        values = np.array([float(line) for line in fh if line.strip()])
    assert values.size == 31 * 31
    cov = values.reshape(31, 31)
    return Dataset("jla_binned", "sn", table["z"].to_numpy(float), table["mu"].to_numpy(float), cov=cov)


@pytest.fixture(scope="module")
def union3(public_data):
    path = public_data / "union3" / "lcparam_full.txt"
    with open(path) as fh:
        header = fh.readline()
    assert header.startswith("#name")
    names = header[1:].split()
    assert len(names) == 19
    table = pd.read_csv(path, sep=r"\s+", comment="#", header=None)
    assert table.shape == (22, 18)  # the last header name (biascor) has no column
    table.columns = names[:18]
    raw = np.loadtxt(public_data / "union3" / "mag_covmat.txt")
    n = int(raw[0])
    assert n == 22 and raw.size == 1 + n * n
    cov = raw[1:].reshape(n, n)
    return Dataset(
        "union3",
        "sn",
        table["zcmb"].to_numpy(float),
        table["mb"].to_numpy(float),
        cov=cov,
        zhel=table["zhel"].to_numpy(float),
    )


@pytest.fixture(scope="module")
def chronometers(public_data):
    data = np.loadtxt(public_data / "cosmic_chronometers" / "moresco2016_hz.txt")
    assert data.shape == (30, 3)
    return Dataset("cc", "hz", data[:, 0], data[:, 1], sigma=data[:, 2])


def _lcdm_E(om, z):
    return np.sqrt(om * (1 + z) ** 3 + 1 - om)


def _grid_posterior(post, lo, hi, n=20001):
    """Mode, mean and sd of a one-parameter posterior on a fine grid over [lo, hi]."""
    x = np.linspace(lo, hi, n)
    lp = post(x[:, None])
    w = np.exp(lp - lp.max())
    w /= w.sum()
    mean = float(np.sum(w * x))
    sd = float(np.sqrt(np.sum(w * (x - mean) ** 2)))
    return float(x[np.argmax(lp)]), mean, sd


# ---------------------------------------------------------------- marginalised SN χ²


def _brute_force_chi2(delta, cov):
    """−2 ln ∫ exp(−½ (Δ − M)ᵀ C⁻¹ (Δ − M)) dM by adaptive quadrature over M."""
    cinv = np.linalg.inv(cov)

    def q(m):
        r = delta - m
        return float(r @ cinv @ r)

    centre = float(np.mean(delta))
    q_ref = q(centre)  # factored out for numerical range; added back exactly below
    integrand = lambda m: math.exp(-0.5 * (q(m) - q_ref))  # noqa: E731
    total = 0.0
    # The integrand is a Gaussian of width ≲ max σ; ±30 mag is ample and finite.
    for a, b in [(centre - 30.0, centre - 1.0), (centre - 1.0, centre + 1.0), (centre + 1.0, centre + 30.0)]:
        val, _ = quad(integrand, a, b, epsabs=0.0, epsrel=1e-12, limit=500)
        total += val
    return q_ref - 2.0 * math.log(total)


def _sn_case(rng, n, full):
    z = np.sort(rng.uniform(0.01, 1.5, n))
    sigma = rng.uniform(0.05, 0.3, n)
    if full:
        a = rng.normal(size=(n, n)) * 0.05
        cov = a @ a.T + np.diag(sigma**2)
        kwargs = {"cov": cov}
    else:
        cov = np.diag(sigma**2)
        kwargs = {"sigma": sigma}
    model = get_model("lcdm")
    theta = np.array([[0.3]])
    # μ_obs = a model μ + an arbitrary M-like offset + correlated noise
    mu_true = model.distance_modulus(theta, z)[0] + 43.16
    mu_obs = mu_true + np.linalg.cholesky(cov) @ rng.normal(size=n)
    return Dataset("toy", "sn", z, mu_obs, **kwargs), cov


@pytest.mark.parametrize("full", [True, False], ids=["full_cov", "diagonal"])
@pytest.mark.parametrize("seed", [0, 1])
def test_marginalised_chi2_equals_numerical_integral_over_M(full, seed):
    rng = np.random.default_rng(seed)
    ds, cov = _sn_case(rng, 7, full)
    like = SNLikelihood(ds)
    model = get_model("lcdm")
    thetas = np.array([[0.05], [0.3], [0.9]])
    chi2 = like.chi2(model, thetas)
    for theta, value in zip(thetas, chi2):
        delta = ds.values - model.distance_modulus(theta, ds.z)[0]
        assert value == pytest.approx(_brute_force_chi2(delta, cov), abs=1e-8, rel=1e-10)


@pytest.mark.parametrize("full", [True, False], ids=["full_cov", "diagonal"])
def test_marginalised_chi2_equals_conley_formula_with_explicit_inverse(full):
    """Conley's A − B²/E + ln(E/2π), with C⁻¹ and the sums in 40-digit arithmetic.

    The residuals carry the ~43 mag offset of M, so A and B²/E are ~1e6 and
    cancel to χ² ~ 15: in double precision any evaluation, ours or an explicit
    inverse, is then exact only to a few ulps of A (≈ 1e-9 here). The reference
    is therefore exact and the tolerance is 16 ulps of A.
    """
    rng = np.random.default_rng(7)
    ds, cov = _sn_case(rng, 20, full)
    like = SNLikelihood(ds)
    model = get_model("wcdm")
    thetas = np.array([[0.3, -1.0], [0.2, -0.5], [0.6, -1.8]])
    with mpmath.workdps(40):
        cinv = mpmath.matrix(cov.tolist()) ** -1
        ones = mpmath.matrix([1] * ds.n)
        e = (ones.T * cinv * ones)[0]
        for theta, value in zip(thetas, like.chi2(model, thetas)):
            delta = mpmath.matrix((ds.values - model.distance_modulus(theta, ds.z)[0]).tolist())
            a = (delta.T * cinv * delta)[0]
            b = (ones.T * cinv * delta)[0]
            exact = float(a - b**2 / e + mpmath.log(e / (2 * mpmath.pi)))
            assert value == pytest.approx(exact, rel=0, abs=16 * np.finfo(float).eps * float(a))


def test_sn_chi2_is_invariant_under_a_magnitude_offset(jla):
    """M is marginalised: shifting every μ by a constant changes nothing."""
    shifted = Dataset("jla+5", "sn", jla.z, jla.values + 5.0, cov=jla.cov)
    theta = np.array([[0.1], [0.3], [0.8]])
    model = get_model("lcdm")
    np.testing.assert_allclose(
        SNLikelihood(shifted).chi2(model, theta), SNLikelihood(jla).chi2(model, theta), rtol=1e-9
    )


def test_sn_log_likelihood_normalisation(jla):
    """ln L = −½ (χ² + ln det 2πC), with ln det from numpy's slogdet."""
    post = Posterior(get_model("lcdm"), [jla])
    sign, logdet = np.linalg.slogdet(2 * np.pi * jla.cov)
    assert sign > 0
    theta = np.array([[0.2], [0.3]])
    chi2 = SNLikelihood(jla).chi2(get_model("lcdm"), theta)
    np.testing.assert_allclose(post.log_likelihood(theta), -0.5 * (chi2 + logdet), rtol=1e-12)
    assert post.norm == pytest.approx(logdet, rel=1e-12)
    assert post.loglike_one(theta[0]) == post.log_likelihood(theta[:1])[0]


def _least_squares_chi2(delta, cov):
    """min over M of (Δ − M)ᵀC⁻¹(Δ − M): least squares on the whitened system."""
    lower = np.linalg.cholesky(cov)
    x, y = np.linalg.solve(lower, np.ones((len(delta), 1))), np.linalg.solve(lower, delta)
    residual = y - x @ np.linalg.lstsq(x, y, rcond=None)[0]
    return float(residual @ residual)


@pytest.mark.parametrize("full", [True, False], ids=["full_cov", "diagonal"])
def test_profile_chi2_is_the_residuals_chi2_at_the_best_magnitude(full):
    ds, cov = _sn_case(np.random.default_rng(3), 20, full)
    model = get_model("lcdm")
    thetas = np.array([[0.05], [0.3], [0.9]])
    for theta, value in zip(thetas, Posterior(model, [ds]).profile_chi2(thetas)):
        delta = ds.values - model.distance_modulus(theta, ds.z)[0]
        assert value == pytest.approx(_least_squares_chi2(delta, cov), rel=1e-9)


def test_best_fit_chi2_is_the_least_squares_minimum_not_the_marginalised_one(jla):
    """JLA binned, flat ΛCDM: the summary's χ²_min against a bounded scalar minimisation over Ωm."""
    from scipy.optimize import minimize_scalar

    from janusfit.stages.diagnose import best_fit

    model = get_model("lcdm")

    def chi2(om):
        return _least_squares_chi2(jla.values - model.distance_modulus(np.array([om]), jla.z)[0], jla.cov)

    exact = minimize_scalar(chi2, bounds=(0.2, 0.4), method="bounded", options={"xatol": 1e-10})
    theta, chi2_min = best_fit(Posterior(model, [jla]), np.array([0.3]))
    assert theta[0] == pytest.approx(exact.x, abs=1e-5)
    assert chi2_min == pytest.approx(exact.fun, abs=1e-8)


# ---------------------------------------------------------------- published fits


def test_jla_binned_flat_lcdm_reproduces_betoule_2014(jla):
    post = Posterior(get_model("lcdm"), [jla])
    mode, mean, sd = _grid_posterior(post, *post.bounds[0])
    assert mode == pytest.approx(0.295, abs=0.01)
    assert mean == pytest.approx(0.295, abs=0.01)
    assert sd == pytest.approx(0.034, rel=0.2)


def test_union3_flat_lcdm_reproduces_rubin_2023(union3):
    post = Posterior(get_model("lcdm"), [union3])
    mode, mean, sd = _grid_posterior(post, *post.bounds[0])
    assert mode == pytest.approx(0.356, abs=0.01)
    assert mean == pytest.approx(0.356, abs=0.01)
    assert sd == pytest.approx(0.027, rel=0.2)


def test_jla_curvature_error_matches_published(jla):
    """Gaussian error from the curvature of χ² at its minimum: σ = (½ d²χ²/dΩm²)^{-1/2}."""
    like = SNLikelihood(jla)
    model = get_model("lcdm")
    x = np.linspace(0.2, 0.4, 4001)
    chi2 = like.chi2(model, x[:, None])
    i = int(np.argmin(chi2))
    h = 0.01
    c = like.chi2(model, np.array([[x[i] - h], [x[i]], [x[i] + h]]))
    sigma = 1.0 / math.sqrt(0.5 * (c[0] - 2 * c[1] + c[2]) / h**2)
    assert x[i] == pytest.approx(0.295, abs=0.01)
    assert sigma == pytest.approx(0.034, rel=0.2)


# ---------------------------------------------------------------- H(z)


def test_hz_chi2_equals_direct_sum(chronometers):
    like = HzLikelihood(chronometers)
    theta = np.array([[0.3], [0.25], [0.4]])
    h0 = np.array([70.0, 67.0, 73.0])
    chi2 = like.chi2(get_model("lcdm"), theta, h0)
    for (om,), H0, value in zip(theta, h0, chi2):
        direct = np.sum(((chronometers.values - H0 * _lcdm_E(om, chronometers.z)) / chronometers.sigma) ** 2)
        assert value == pytest.approx(direct, rel=1e-12)
    # JANUS: H = H0 (1+z) √(1 + 2 q0 z)
    q0 = -0.087
    value = like.chi2(get_model("janus"), np.array([[q0]]), np.array([65.0]))[0]
    z = chronometers.z
    direct = np.sum(((chronometers.values - 65.0 * (1 + z) * np.sqrt(1 + 2 * q0 * z)) / chronometers.sigma) ** 2)
    assert value == pytest.approx(direct, rel=1e-12)


def test_hz_chi2_full_covariance_equals_direct(chronometers):
    rng = np.random.default_rng(3)
    s = chronometers.sigma
    corr = 0.3 * np.exp(-np.abs(chronometers.z[:, None] - chronometers.z[None, :]) / 0.2)
    np.fill_diagonal(corr, 1.0)
    cov = corr * np.outer(s, s)
    ds = Dataset("cc_cov", "hz", chronometers.z, chronometers.values + rng.normal(0, 1, s.size), cov=cov)
    like = HzLikelihood(ds)
    r = ds.values - 68.0 * _lcdm_E(0.31, ds.z)
    direct = r @ np.linalg.solve(cov, r)
    assert like.chi2(get_model("lcdm"), np.array([[0.31]]), np.array([68.0]))[0] == pytest.approx(direct, rel=1e-10)
    sign, logdet = np.linalg.slogdet(2 * np.pi * cov)
    assert like.norm == pytest.approx(logdet, rel=1e-12)


def test_posterior_adds_H0_only_for_hz_data(jla, chronometers):
    model = get_model("lcdm")
    sn_only = Posterior(model, [jla])
    assert sn_only.param_names == ("Om",) and sn_only.ndim == 1 and not sn_only.uses_H0
    hz = Posterior(model, [chronometers])
    assert hz.param_names == ("Om", "H0") and hz.ndim == 2 and hz.uses_H0
    np.testing.assert_array_equal(hz.bounds[1], H0_PRIOR)
    joint = Posterior(get_model("wcdm"), [jla, chronometers])
    assert joint.param_names == ("Om", "w", "H0")
    assert joint.n_data == 31 + 30


def test_hz_posterior_value(chronometers):
    post = Posterior(get_model("lcdm"), [chronometers])
    theta = np.array([[0.3, 70.0]])
    chi2 = np.sum(((chronometers.values - 70.0 * _lcdm_E(0.3, chronometers.z)) / chronometers.sigma) ** 2)
    norm = np.sum(np.log(2 * np.pi * chronometers.sigma**2))
    assert post(theta)[0] == pytest.approx(-0.5 * (chi2 + norm), rel=1e-12)


@pytest.mark.parametrize(
    "name,theta", [("lcdm", [[0.3, 70.0], [0.2, 65.0]]), ("janus", [[-0.087, 66.0], [-0.2, 72.0], [0.0, 60.0]])]
)
def test_joint_posterior_is_sum_of_parts(name, theta, union3, chronometers):
    model = get_model(name)
    theta = np.array(theta)
    joint = Posterior(model, [union3, chronometers])
    sn = Posterior(model, [union3])
    hz = Posterior(model, [chronometers])
    expected = sn(theta[:, :1]) + hz(theta)
    assert np.all(np.isfinite(expected))
    np.testing.assert_allclose(joint(theta), expected, rtol=1e-12)
    np.testing.assert_allclose(joint.chi2(theta), sn.chi2(theta[:, :1]) + hz.chi2(theta), rtol=1e-12)


def test_joint_janus_domain_is_set_by_the_deepest_dataset(union3, chronometers):
    """q0 = −0.24 is fine up to z = 1.965 (chronometers) but not to z = 2.262 (Union3)."""
    model = get_model("janus")
    theta = np.array([[-0.24, 70.0]])
    assert np.isfinite(Posterior(model, [chronometers])(theta)[0])
    assert Posterior(model, [union3, chronometers])(theta)[0] == -np.inf


# ---------------------------------------------------------------- prior, domain, errors


def test_minus_inf_outside_prior(jla, chronometers):
    post = Posterior(get_model("lcdm"), [jla, chronometers])
    lo, hi = post.bounds[0]
    theta = np.array(
        [
            [lo - 1e-9, 70.0],
            [hi + 1e-9, 70.0],
            [-0.5, 70.0],
            [0.3, H0_PRIOR[0] - 1e-9],
            [0.3, H0_PRIOR[1] + 1e-9],
            [0.3, 70.0],
            [lo, H0_PRIOR[0]],  # bounds are inclusive
            [hi, H0_PRIOR[1]],
        ]
    )
    out = post(theta)
    np.testing.assert_array_equal(out[:5], -np.inf)
    assert np.all(np.isfinite(out[5:]))


def test_minus_inf_outside_janus_domain(union3):
    """Union3 reaches z = 2.26226: JANUS needs q0 > −1/(2·2.26226) ≈ −0.2210."""
    assert union3.z.max() == pytest.approx(2.26226)
    post = Posterior(get_model("janus"), [union3])
    q_lim = -1.0 / (2.0 * union3.z.max())
    theta = np.array([[-0.5], [-0.3], [q_lim - 1e-6], [q_lim + 1e-6], [-0.087], [0.0], [0.01]])
    assert np.all(post.in_prior(theta[:6]))  # the first three are in the prior but not in the domain
    out = post(theta)
    np.testing.assert_array_equal(out[[0, 1, 2, 6]], -np.inf)
    assert np.all(np.isfinite(out[3:6]))
    np.testing.assert_array_equal(post.chi2(theta[:3]), np.inf)
    np.testing.assert_array_equal(post.log_likelihood(theta[:3]), -np.inf)


@pytest.fixture
def nan_model():
    """A model that forgot its domain: E = (1+z)√(1 − a z) is NaN for a z > 1."""
    name = "_test_likelihood_sqrt_model"

    class Sqrt(Model):
        params = ("a",)
        labels = {"a": "a"}
        default_priors = {"a": (0.0, 1.0)}

        def E(self, theta, z):
            a = theta[:, 0:1]
            return (1.0 + z) * np.sqrt(1.0 - a * z)

    Sqrt.name = name
    cls = type("SqrtNamed", (Sqrt,), {"name": name})
    try:
        yield cls()
    finally:
        MODELS.pop(name, None)


def test_nan_log_likelihood_raises_naming_the_parameters(nan_model, union3, chronometers):
    post = Posterior(nan_model, [union3])
    assert np.isfinite(post(np.array([[0.2]]))[0])  # a z < 1 everywhere: fine
    with np.errstate(invalid="ignore"):
        with pytest.raises(LikelihoodError) as exc:
            post(np.array([[0.2], [0.75], [0.9]]))
    msg = str(exc.value)
    assert "a=0.75" in msg and "_test_likelihood_sqrt_model" in msg
    # With H0: both parameters are named.
    post_hz = Posterior(nan_model, [chronometers])
    with np.errstate(invalid="ignore"):
        with pytest.raises(LikelihoodError, match=r"a=0\.8, H0=71\.5"):
            post_hz.log_likelihood(np.array([[0.8, 71.5]]))


def test_prior_on_unknown_parameter_raises(jla, chronometers):
    model = get_model("lcdm")
    with pytest.raises(KeyError, match="w"):
        Posterior(model, [jla], priors={"w": (-2.0, 0.0)})
    with pytest.raises(KeyError, match="H0"):
        Posterior(model, [jla], priors={"H0": (60.0, 80.0)})  # SN alone has no H0
    post = Posterior(model, [jla, chronometers], priors={"H0": (60.0, 80.0), "Om": (0.1, 0.5)})
    np.testing.assert_array_equal(post.bounds, [[0.1, 0.5], [60.0, 80.0]])
    assert post(np.array([[0.3, 85.0]]))[0] == -np.inf
    assert post.log_prior_volume() == pytest.approx(math.log(0.4) + math.log(20.0))


def test_posterior_needs_a_dataset():
    with pytest.raises(ValueError):
        Posterior(get_model("lcdm"), [])


def _random_batch(post, rng, n=64, widen=0.0):
    lo, hi = post.bounds[:, 0], post.bounds[:, 1]
    span = hi - lo
    return lo - widen * span + rng.random((n, post.ndim)) * span * (1 + 2 * widen)


@pytest.mark.parametrize("name", ["janus", "lcdm", "wcdm"])
def test_batch_equals_singles(name, union3, chronometers):
    post = Posterior(get_model(name), [union3, chronometers])
    theta = _random_batch(post, np.random.default_rng(11), widen=0.05)
    batch = post(theta)
    singles = np.array([post(t)[0] for t in theta])
    assert np.any(np.isfinite(batch))
    if name == "janus":
        assert np.any(batch == -np.inf)  # part of the batch is outside the domain
    np.testing.assert_array_equal(np.isfinite(batch), np.isfinite(singles))
    ok = np.isfinite(batch)
    np.testing.assert_allclose(batch[ok], singles[ok], rtol=1e-12, atol=0)


def test_pickle_round_trip_gives_identical_values(union3, jla, chronometers):
    for name in ("janus", "lcdm", "wcdm"):
        post = Posterior(get_model(name), [union3, jla, chronometers])
        clone = pickle.loads(pickle.dumps(post))
        theta = _random_batch(post, np.random.default_rng(5), n=32)
        np.testing.assert_array_equal(clone(theta), post(theta))
        assert clone.param_names == post.param_names
        np.testing.assert_array_equal(clone.bounds, post.bounds)


def test_prior_transform_maps_unit_cube_to_bounds(union3, chronometers):
    post = Posterior(get_model("wcdm"), [union3, chronometers])
    lo, hi = post.bounds[:, 0], post.bounds[:, 1]
    np.testing.assert_array_equal(post.prior_transform(np.zeros(post.ndim)), lo)
    np.testing.assert_allclose(post.prior_transform(np.ones(post.ndim)), hi, rtol=1e-15)
    np.testing.assert_allclose(post.prior_transform(np.full(post.ndim, 0.5)), post.prior_centre(), rtol=1e-15)
    np.testing.assert_array_equal(post.bounds, [[0.01, 1.0], [-2.5, 0.0], list(H0_PRIOR)])
    u = np.random.default_rng(2).random((1000, post.ndim))
    x = post.prior_transform(u)
    assert x.shape == u.shape
    assert np.all(post.in_prior(x))
    np.testing.assert_allclose((x - lo) / (hi - lo), u, rtol=1e-12, atol=1e-15)
