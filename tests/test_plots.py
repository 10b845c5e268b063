"""Trace and corner plots: valid PNG files for one and two parameters, with either sampler missing."""

import matplotlib.image as mpimg
import numpy as np
import pytest

from janusfit.plots import corner_plot, trace_plot


def check_png(path, min_side=200):
    assert path.is_file()
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = mpimg.imread(path)
    assert min(image.shape[:2]) >= min_side
    assert image.std() > 0  # not blank
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == []  # no temporary left


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.mark.parametrize("ndim", [1, 2])
def test_trace_plot(tmp_path, rng, ndim):
    chain = rng.normal(size=(500, 16, ndim))
    log_prob = -0.5 * np.sum(chain**2, axis=2)
    log_prob[0, 0] = -np.inf  # a walker started outside the prior
    names = ["Om", "w"][:ndim]
    path = tmp_path / f"trace_{ndim}.png"
    trace_plot(chain, names, {"Om": r"$\Omega_m$"}, path, burn_in=50, log_prob=log_prob)
    check_png(path)


def test_trace_plot_thins_long_chains(tmp_path, rng):
    path = tmp_path / "long.png"
    trace_plot(rng.normal(size=(20001, 4, 1)), ["Om"], None, path, burn_in=None)
    check_png(path)


@pytest.mark.parametrize("ndim", [1, 2])
@pytest.mark.parametrize("which", ["both", "emcee", "dynesty"])
def test_corner_plot(tmp_path, rng, ndim, which):
    names = ["Om", "w"][:ndim]
    emcee_samples = rng.normal(size=(4000, ndim))
    dynesty_samples = rng.normal(scale=3.0, size=(3000, ndim))
    # dynesty-like importance weights: the samples are wider than the posterior
    weights = np.exp(-0.5 * np.sum(dynesty_samples**2, axis=1) * (1 - 1 / 9))
    path = tmp_path / f"corner_{which}_{ndim}.png"
    corner_plot(
        emcee_samples if which != "dynesty" else None,
        dynesty_samples if which != "emcee" else None,
        weights if which != "emcee" else None,
        names,
        {"Om": r"$\Omega_m$", "w": r"$w$"},
        path,
        truths={"Om": 0.0},
    )
    check_png(path, min_side=150)


def test_corner_plot_needs_samples(tmp_path):
    with pytest.raises(ValueError, match="both"):
        corner_plot(None, None, None, ["Om"], None, tmp_path / "x.png")
