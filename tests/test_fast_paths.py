"""The likelihood's fast routes against its direct definition.

SNLikelihood evaluates large samples through a reduced quadratic form in ln D at
24 interpolation nodes, falls back to the direct route (μ at every supernova)
for rows the nodes do not resolve, and solves small full covariances with a
compiled forward substitution instead of LAPACK. Each route must give the χ²
of the direct definition; the direct route itself is checked against brute
force and published fits in test_likelihood.py.
"""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.linalg import solve_triangular

from janusfit.data.dataset import Dataset
from janusfit.likelihood import SMALL_SOLVE, Posterior, SNLikelihood
from janusfit.models import RedshiftGrid, get_model


@pytest.fixture(scope="module")
def pantheon(public_data):
    table = pd.read_csv(public_data / "pantheonplus" / "Pantheon+SH0ES.dat", sep=r"\s+")
    table = table[table["zHD"] > 0.01]
    return Dataset(
        "pantheon",
        "sn",
        table["zHD"].to_numpy(float),
        table["m_b_corr"].to_numpy(float),
        sigma=table["m_b_corr_err_DIAG"].to_numpy(float),
        zhel=table["zHEL"].to_numpy(float),
    )


def _with_full_cov(ds: Dataset, n: int, seed: int = 3) -> Dataset:
    """The first n rows of ``ds`` with a dense random covariance added to its diagonal errors."""
    a = np.random.default_rng(seed).normal(size=(n, n)) * (0.1 / np.sqrt(n))
    cov = a @ a.T + np.diag(ds.sigma[:n] ** 2)
    return Dataset(f"{ds.name}_full{n}", "sn", ds.z[:n], ds.values[:n], cov=cov, zhel=ds.zhel[:n])


def _draws(model, z_max, n=200, seed=0):
    rng = np.random.default_rng(seed)
    lo = np.array([model.default_priors[p][0] for p in model.params])
    hi = np.array([model.default_priors[p][1] for p in model.params])
    theta = lo + rng.random((n, lo.size)) * (hi - lo)
    return theta[model.in_domain(theta, z_max)]


@pytest.mark.parametrize("cov", ["diagonal", "full"])
@pytest.mark.parametrize("name", ["lcdm", "janus", "wcdm"])
def test_reduced_chi2_equals_direct(pantheon, cov, name):
    ds = pantheon if cov == "diagonal" else _with_full_cov(pantheon, 400)
    like = SNLikelihood(ds)
    assert like.reduced is not None
    model = get_model(name)
    theta = _draws(model, ds.z.max())
    reduced, ok, _ = like.reduced(model, theta)
    direct = like.chi2_direct(model, theta)
    assert ok.mean() > 0.7
    # 1e-9 relative: μ interpolated to ~1e-12 mag, and rounding of the quadratic form.
    np.testing.assert_allclose(reduced[ok], direct[ok], rtol=1e-9, atol=1e-6)
    # The public χ²: reduced where resolved, direct elsewhere, so always the direct value.
    np.testing.assert_allclose(like.chi2(model, theta), direct, rtol=1e-9, atol=1e-6)


def test_unresolved_rows_are_evaluated_directly(pantheon):
    """JANUS close to the edge of its domain: ln D has a branch point just beyond z_max."""
    like = SNLikelihood(pantheon)
    model = get_model("janus")
    q_lim = -1.0 / (2.0 * pantheon.z.max())
    theta = np.array([[q_lim + 1e-6], [q_lim + 1e-3], [-0.1], [-0.01]])
    _, ok, _ = like.reduced(model, theta)
    np.testing.assert_array_equal(ok, [False, False, True, True])
    np.testing.assert_array_equal(like.chi2(model, theta[:2]), like.chi2_direct(model, theta[:2]))


def test_reduced_route_is_deterministic(pantheon):
    """Batch or single, original or unpickled copy: the same bits (emcee's resume relies on it)."""
    post = Posterior(get_model("lcdm"), [pantheon])
    theta = np.random.default_rng(4).uniform(0.2, 0.5, (33, 1))
    batch = post(theta)
    np.testing.assert_array_equal(batch, [post(t)[0] for t in theta])
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(post))(theta), batch)


def test_small_full_covariance_matches_lapack_route(pantheon):
    ds = _with_full_cov(pantheon, 60)
    like = SNLikelihood(ds)
    assert like.errors.lt is not None and ds.n <= SMALL_SOLVE
    model = get_model("wcdm")
    theta = _draws(model, ds.z.max(), n=20)
    log_d = np.log(model.transverse_distance(theta, like.grid))
    resid = like.mu_d - 5.0 / np.log(10.0) * log_d
    y = solve_triangular(np.linalg.cholesky(ds.cov), resid.T, lower=True).T
    b = y @ like.u
    expected = np.einsum("ij,ij->i", y, y) - b * b / like.E + np.log(like.E / (2 * np.pi))
    np.testing.assert_allclose(like.chi2_direct(model, theta), expected, rtol=1e-9)


def test_large_full_covariance_uses_lapack(pantheon):
    ds = _with_full_cov(pantheon, SMALL_SOLVE + 40)
    like = SNLikelihood(ds)
    assert like.errors.lt is None
    rows = np.random.default_rng(2).normal(size=(3, ds.n))
    expected = solve_triangular(np.linalg.cholesky(ds.cov), rows.T, lower=True).T
    np.testing.assert_allclose(like.errors.whiten(rows.copy()), expected, rtol=1e-10, atol=1e-12)


def test_interpolation_is_exact_for_polynomials_and_tail_vanishes():
    z = np.sort(np.random.default_rng(0).uniform(0.01, 2.3, 300))
    grid = RedshiftGrid(z, order=24, max_panel=1.2, graded=False)
    poly = np.polynomial.Polynomial(np.random.default_rng(1).normal(size=22))
    x = grid.nodes / grid.z_max
    np.testing.assert_allclose(grid.interpolation_matrix() @ poly(x), poly(z / grid.z_max), rtol=1e-10, atol=1e-10)
    assert np.max(np.abs(grid.tail_matrix() @ poly(x))) < 1e-10
    wiggly = np.cos(40.0 * x)
    assert np.max(np.abs(grid.tail_matrix() @ wiggly)) > 1e-6


def test_graded_grid_keeps_relative_accuracy_near_zero():
    z = np.array([1e-5, 1e-3, 0.5, 2.0])
    graded, plain = RedshiftGrid(z), RedshiftGrid(z, graded=False)
    assert graded.nodes.size > plain.nodes.size
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(graded.integrate(4 * graded.nodes**3), z**4, rtol=1e-13)
