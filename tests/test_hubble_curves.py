"""The report's Hubble diagram: each model's curve is the likelihood's own fit, and JANUS's domain limit."""

import numpy as np
import pytest

from janusfit.data import load_dataset
from janusfit.diagnostics.curves import model_curves, redshift_limits
from janusfit.likelihood import Posterior
from janusfit.models import get_model
from janusfit.plots import hubble_fit_plot

JLA = {"kind": "sn", "format": "jla_binned", "path": "jla/jla_mub.txt", "cov": "jla/jla_mub_covmatrix.txt"}
CC = {"kind": "hz", "format": "hz_table", "path": "cosmic_chronometers/moresco2016_hz.txt"}


@pytest.fixture(scope="module")
def jla(public_data):
    return load_dataset("jla", JLA, public_data)


@pytest.fixture(scope="module")
def cc(public_data):
    return load_dataset("cc", CC, public_data)


@pytest.mark.parametrize("model, theta", [("lcdm", {"Om": 0.3}), ("janus", {"q0": -0.1}), ("janus", {"q0": -0.3})])
def test_a_supernova_curve_reproduces_the_marginalised_chi2(jla, model, theta):
    """Data less the curve, with its best constant, give the likelihood's χ² = min over M of χ² + ln(E/2π)."""
    posterior = Posterior(get_model(model), [jla])
    point = np.array([list(theta.values())])
    (curve,) = model_curves(posterior, theta, point)
    inverse = np.linalg.inv(jla.cov)
    r = jla.values - curve["best_at_data"]
    e = inverse.sum()
    assert r @ inverse @ r + np.log(e / (2 * np.pi)) == pytest.approx(posterior.chi2(point)[0], rel=1e-9)
    # One draw: the band is that draw's curve, which is the best fit's.
    assert np.allclose(curve["lo"], curve["best"]) and np.allclose(curve["hi"], curve["best"])


def test_an_h_of_z_curve_is_the_likelihoods_model(cc):
    posterior = Posterior(get_model("lcdm"), [cc])
    theta = {"Om": 0.31, "H0": 68.0}
    point = np.array([[0.31, 68.0]])
    (curve,) = model_curves(posterior, theta, point)
    assert np.sum(((cc.values - curve["best_at_data"]) / curve["errors"]) ** 2) == pytest.approx(
        posterior.chi2(point)[0], rel=1e-12
    )
    assert curve["best"][0] == pytest.approx(68.0 * np.sqrt(0.31 * (1 + cc.z.min()) ** 3 + 0.69), rel=1e-12)


def test_the_band_holds_68_percent_of_the_draws(jla):
    posterior = Posterior(get_model("lcdm"), [jla])
    draws = np.random.default_rng(3).normal(0.3, 0.03, size=(4000, 1))
    (curve,) = model_curves(posterior, {"Om": 0.3}, draws)
    # μ(z) is monotonic in Ωm at fixed z, so the band at the largest z is the curve at Ωm's 16 and 84 % draws.
    used = draws[np.linspace(0, len(draws) - 1, 200).astype(int)]
    (lo_curve,) = model_curves(posterior, {"Om": float(np.percentile(used, 84))}, used[:1])
    assert curve["lo"][-1] == pytest.approx(lo_curve["best"][-1], abs=2e-3)
    assert curve["lo"][-1] < curve["best"][-1] < curve["hi"][-1]


def test_janus_stops_at_z_equal_minus_one_over_two_q0():
    janus = get_model("janus")
    limits = janus.redshift_limit(np.array([[-0.25], [-0.1], [0.0]]))
    assert limits.tolist() == [2.0, 5.0, np.inf]
    e = janus.E(np.array([[-0.25]]), np.array([1.999, 2.001]))[0]
    assert np.isfinite(e[0]) and not np.isfinite(e[1])
    assert np.all(np.isinf(get_model("lcdm").redshift_limit(np.array([[0.3]]))))


def test_redshift_limits_of_a_posterior(jla):
    posterior = Posterior(get_model("janus"), [jla])
    draws = np.linspace(-0.3, -0.1, 1001)[:, None]
    limits = redshift_limits(posterior, {"q0": -0.2}, draws)
    assert limits["best"] == pytest.approx(2.5)
    assert limits["q025"] == pytest.approx(np.quantile(-0.5 / draws[:, 0], 0.025))
    assert redshift_limits(Posterior(get_model("lcdm"), [jla]), {"Om": 0.3}, np.array([[0.3]])) is None


def test_the_figure_of_a_joint_fit_has_a_panel_pair_per_dataset(jla, cc, tmp_path):
    curves, limits = {}, {}
    # JANUS inside its domain up to the chronometers' z = 1.965 (q0 > -0.254), its limit near the data.
    for model, best, draws in (
        ("janus", {"q0": -0.2, "H0": 68.0}, np.array([[-0.22, 67.0], [-0.2, 68.0]])),
        ("lcdm", {"Om": 0.3, "H0": 68.0}, np.array([[0.3, 68.0], [0.32, 69.0]])),
    ):
        posterior = Posterior(get_model(model), [jla, cc])
        curves[model] = model_curves(posterior, best, draws)
        limits[model] = redshift_limits(posterior, best, draws)
    assert [c["kind"] for c in curves["janus"]] == ["sn", "hz"]
    assert limits["lcdm"] is None and limits["janus"]["best"] == pytest.approx(2.5)
    path = tmp_path / "hubble.png"
    fig = hubble_fit_plot(curves, limits, path, title="jla+cc")
    from matplotlib.image import imread

    height, width = imread(path).shape[:2]
    assert width == 800 and height == 1040
    # Each axis with its unit; the residuals named as data less the first model's fit (read as "minus JANUS").
    assert [ax.get_ylabel() for ax in fig.axes] == [
        r"$\mu$ + const [mag]",
        "μ − janus fit [mag]",
        r"$H(z)$ [km/s/Mpc]",
        "H − janus fit [km/s/Mpc]",
    ]


@pytest.mark.parametrize("q0", [-0.043, -0.2])
def test_no_legend_covers_data_and_no_title_covers_tick_labels(jla, cc, tmp_path, q0):
    """JLA + chronometers, JANUS near q0 = 0 (its limit stated in the legend) and near its limit (marked).

    Before, the H(z) legend sat over the chronometers at 0.2 < z < 1 and the
    second dataset's title over the first's residual tick labels.
    """
    rng = np.random.default_rng(1)
    curves, limits = {}, {}
    for model, best, centre in (("janus", {"q0": q0, "H0": 68.0}, q0), ("lcdm", {"Om": 0.3, "H0": 68.0}, 0.3)):
        draws = np.column_stack([centre + 0.01 * rng.normal(size=200), 68.0 + rng.normal(size=200)])
        if model == "janus":
            draws[:, 0] = np.minimum(draws[:, 0], -1e-4)
        posterior = Posterior(get_model(model), [jla, cc])
        curves[model] = model_curves(posterior, best, draws)
        limits[model] = redshift_limits(posterior, best, draws)
    fig = hubble_fit_plot(curves, limits, tmp_path / "hubble.png", title="jla+cc: each model's best fit and 68 % band")
    renderer = fig.canvas.get_renderer()
    diagrams = [ax for ax in fig.axes if ax.get_legend() is not None]
    assert len(diagrams) == 2
    for ax in diagrams:
        box = ax.get_legend().get_window_extent(renderer)
        for container in ax.containers:
            x, y = container.lines[0].get_data()
            points = ax.transData.transform(np.column_stack([x, y]))
            inside = (
                (points[:, 0] >= box.x0)
                & (points[:, 0] <= box.x1)
                & (points[:, 1] >= box.y0)
                & (points[:, 1] <= box.y1)
            )
            assert not inside.any(), f"{ax.get_title()}: legend over the points at z = {np.asarray(x)[inside]}"
        title = ax.title.get_window_extent(renderer)
        for other in fig.axes:
            if other is not ax:
                for label in other.get_xticklabels() + other.get_yticklabels():
                    if label.get_visible() and label.get_text():
                        assert not title.overlaps(label.get_window_extent(renderer)), (ax.get_title(), label.get_text())
