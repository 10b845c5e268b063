"""The likelihood's parallel kernels give the serial kernels' results, and threads never exceed what was asked.

Each parallel kernel deals whole rows (parameter vectors) to numba's threads
and runs the serial kernel's row function on each, so the results must be
the same to the last bit: compared with ``array_equal``, not a tolerance.
On a one-CPU machine numba's pool has one thread and the comparison is of
the serial kernel with itself; the cap is asserted there instead.
"""

from __future__ import annotations

import warnings
from dataclasses import replace

import numba
import numpy as np
import pytest
from release_configs import jla_light_curves
from threadpoolctl import threadpool_info

from janusfit.data import load_dataset
from janusfit.data.lightcurves import COVMAT_KEYS
from janusfit.likelihood import Posterior, parallel
from janusfit.likelihood.lightcurve import LightCurveLikelihood
from janusfit.models import get_model

TWO = min(2, numba.config.NUMBA_NUM_THREADS)


@pytest.fixture(autouse=True)
def one_thread_after():
    yield
    parallel.use_threads(1)


def _both(fn):
    """``fn()`` with one thread, then with two."""
    parallel.use_threads(1)
    serial = fn()
    assert parallel.use_threads(2) == TWO
    return serial, fn()


@pytest.fixture(scope="module")
def jla740(public_data):
    return load_dataset("jla740", jla_light_curves(public_data))


def _c_eta_blocks(n: int, seed: int = 3) -> dict:
    """The six release blocks of a random SPD 3N × 3N C_η (low rank + diagonal)."""
    rng = np.random.default_rng(seed)
    g = rng.normal(scale=0.1 / np.sqrt(20), size=(3 * n, 20))
    c_eta = g @ g.T + np.diag(rng.uniform(1e-4, 4e-4, 3 * n))
    pairs = dict(zip(COVMAT_KEYS, [(0, 0), (1, 1), (2, 2), (0, 1), (0, 2), (1, 2)]))
    return {k: np.ascontiguousarray(0.5 * (c_eta[i::3, j::3] + c_eta[j::3, i::3])) for k, (i, j) in pairs.items()}


def _rows(n: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    theta = rng.uniform(-0.3, -0.01, size=(n, 1))
    nuisance = np.column_stack([rng.uniform(0.1, 0.2, n), rng.uniform(2.5, 3.5, n)])
    return theta, nuisance


@pytest.mark.parametrize("split, log_det", [(10.0, False), (None, True)])
def test_light_curves_with_systematic_matrices_on_two_threads_equal_one_thread(jla740, split, log_det):
    data = replace(jla740, light_curves=replace(jla740.light_curves, covmats=_c_eta_blocks(jla740.n)))
    like = LightCurveLikelihood(data, pecz=0.001, host_mass_split=split, log_det_cov=log_det)
    theta, nuisance = _rows(7)
    serial, threaded = _both(lambda: like.chi2(get_model("janus"), theta, nuisance))
    assert np.all(np.isfinite(serial))
    np.testing.assert_array_equal(threaded, serial)
    # And both are the χ² of the dense covariance, solved by numpy.
    model_log_d = np.log(get_model("janus").transverse_distance(theta[:1], like.grid))[0]
    cov = like.covariance(*nuisance[0])
    delta = like.residuals(model_log_d, *nuisance[0])
    inv_d, inv_x = np.linalg.solve(cov, delta), np.linalg.solve(cov, like._x)
    f, b = like._x.T @ inv_x, like._x.T @ inv_d
    dense = delta @ inv_d - b @ np.linalg.solve(f, b) + np.linalg.slogdet(f / (2 * np.pi))[1]
    dense += np.linalg.slogdet(cov)[1] if log_det else 0.0
    assert serial[0] == pytest.approx(dense, rel=1e-10)


def test_a_covariance_that_is_not_positive_definite_gives_nan_on_either_path(jla740):
    blocks = {k: np.zeros((jla740.n, jla740.n)) for k in COVMAT_KEYS}
    blocks["v0"] = -np.eye(jla740.n)  # C = var − 1: negative
    like = LightCurveLikelihood(replace(jla740, light_curves=replace(jla740.light_curves, covmats=blocks)), 0.001, 10.0)
    theta, nuisance = _rows(3)
    for chi2 in _both(lambda: like.chi2(get_model("janus"), theta, nuisance)):
        assert np.all(np.isnan(chi2))


def test_light_curves_without_systematics_on_two_threads_equal_one_thread(jla740):
    like = LightCurveLikelihood(jla740, pecz=0.001, host_mass_split=10.0)
    theta, nuisance = _rows(64)
    serial, threaded = _both(lambda: like.chi2(get_model("janus"), theta, nuisance))
    np.testing.assert_array_equal(threaded, serial)


@pytest.mark.parametrize("model", ["janus", "lcdm"])
def test_reduced_form_on_two_threads_equals_one_thread(public_data, model):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # Pantheon+'s diagonal errors
        data = load_dataset(
            "pantheon_plus",
            {"kind": "sn", "format": "pantheon_plus", "path": str(public_data / "pantheonplus" / "Pantheon+SH0ES.dat")},
        )
    post = Posterior(get_model(model), [data])
    like = post.sn[0]
    assert like.reduced is not None
    rng = np.random.default_rng(4)
    theta = post.bounds[:, 0] + rng.random((64, post.ndim)) * np.diff(post.bounds, axis=1)[:, 0]
    theta = theta[post.model.in_domain(theta[:, : len(post.model.params)], post.z_max)]
    serial, threaded = _both(lambda: like.reduced(post.model, theta[:, : len(post.model.params)]))
    for a, b in zip(serial, threaded):
        np.testing.assert_array_equal(b, a)


def test_threads_are_capped_by_numbas_pool_and_blas_by_the_count():
    assert parallel.use_threads(10_000) == numba.config.NUMBA_NUM_THREADS
    assert numba.get_num_threads() == numba.config.NUMBA_NUM_THREADS
    assert parallel.use_threads(1) == 1
    assert numba.get_num_threads() == 1
    assert all(lib["num_threads"] <= 1 for lib in threadpool_info() if lib["user_api"] == "blas")
