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


def test_trace_y_range_is_that_of_the_chain_after_burn_in_and_tau_is_against_n_over_50(tmp_path, rng):
    """Walkers that start far out (the prior's edges) do not squash the panel to a line."""
    chain = rng.normal(size=(1000, 8, 1))
    chain[:20] = rng.uniform(-1000, 1000, size=(20, 8, 1))
    history = [(250, 3.0), (500, 3.2), (750, 3.1), (1000, 3.1)]
    fig = trace_plot(
        chain,
        ["Om"],
        None,
        tmp_path / "t.png",
        burn_in=100,
        log_prob=-0.5 * chain[..., 0] ** 2,
        tau_history=history,
        n_over_tau=50,
        title="jla/lcdm",
    )
    trace, lnp, tau = fig.axes
    assert -6 < trace.get_ylim()[0] < -2 and 2 < trace.get_ylim()[1] < 6
    assert lnp.get_ylim()[0] > -20
    lines = {line.get_label(): line for line in tau.get_lines()}
    assert lines["N/50"].get_ydata()[-1] == pytest.approx(1000 / 50)
    assert list(lines[r"$\tau_{\max}$ at each check"].get_xdata()) == [250, 500, 750, 1000]
    assert fig._suptitle.get_text().startswith("jla/lcdm: emcee; burn-in 100 steps")
    check_png(tmp_path / "t.png")


def test_corner_plot_is_readable_titled_and_gives_quantiles(tmp_path, rng):
    x = rng.normal(0.3, 0.03, size=(20000, 1))
    path = tmp_path / "c.png"
    fig = corner_plot(x, x[:5000], np.ones(5000), ["Om"], {"Om": r"$\Omega_m$"}, path, title="jla/lcdm")
    assert fig._suptitle.get_text() == "jla/lcdm: emcee and dynesty"
    (ax,) = fig.axes
    lo, median, hi = np.percentile(x, [16, 50, 84])
    assert ax.get_title() == rf"$\Omega_m$ = ${{{median:.3f}}}_{{-{median - lo:.3f}}}^{{+{hi - median:.3f}}}$"
    dashed = sorted(line.get_xdata()[0] for line in ax.get_lines() if line.get_linestyle() == "--")
    assert dashed[::2] == pytest.approx(np.percentile(x, [16, 50, 84]), abs=1e-3)
    assert mpimg.imread(path).shape[1] >= 500


def test_h0_axes_carry_its_unit_and_its_title_does_not(tmp_path, rng):
    """Before, the corner and trace axes read "$H_0$" with no unit (the overview gives km/s/Mpc)."""
    x = np.column_stack([rng.normal(-0.05, 0.02, 4000), rng.normal(68.0, 1.0, 4000)])
    labels = {"q0": "$q_0$", "H0": "$H_0$"}
    fig = corner_plot(x, None, None, ["q0", "H0"], labels, tmp_path / "c.png")
    axes = np.array(fig.axes).reshape(2, 2)
    assert axes[1, 0].get_xlabel() == "$q_0$" and axes[1, 0].get_ylabel() == "$H_0$ [km/s/Mpc]"
    assert axes[1, 1].get_xlabel() == "$H_0$ [km/s/Mpc]"
    assert axes[1, 1].get_title().startswith("$H_0$ = $")
    # Each title to two significant digits of its own interval: H0 had q0's three decimals (the audit: with
    # a prior 1e-10 wide beside it, eight).
    (q16, q50, q84), (h16, h50, h84) = (np.percentile(x[:, i], [16, 50, 84]) for i in (0, 1))
    assert axes[0, 0].get_title() == f"$q_0$ = ${{{q50:.3f}}}_{{-{q50 - q16:.3f}}}^{{+{q84 - q50:.3f}}}$"
    assert axes[1, 1].get_title() == f"$H_0$ = ${{{h50:.1f}}}_{{-{h50 - h16:.1f}}}^{{+{h84 - h50:.1f}}}$"
    trace = trace_plot(x.reshape(1000, 4, 2), ["q0", "H0"], labels, tmp_path / "t.png")
    assert [ax.get_ylabel() for ax in trace.axes[:2]] == ["$q_0$", "$H_0$ [km/s/Mpc]"]
