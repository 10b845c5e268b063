"""The JLA light-curve likelihood on the real 740-supernova file.

The analytic marginalisation over the two absolute magnitudes is checked
against brute-force numerical integration over them, with the covariance and
residuals built here from the raw columns (read with numpy, not the loader);
the systematic-matrix combination against the explicit A C_η Aᵀ of a synthetic
C_η; and the whole log-likelihood against Cobaya's own ``sn.jla`` on the same
file (log-likelihood differences over a grid of the model's parameters, α and β).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from schema_defaults import with_defaults
from scipy import integrate, optimize

from janusfit.data import load_dataset
from janusfit.data.lightcurves import COVMAT_KEYS
from janusfit.data.simulate import C_KM_S
from janusfit.errors import ConfigError, DataError
from janusfit.likelihood import Posterior
from janusfit.likelihood.lightcurve import LightCurveLikelihood, systematic_covariance
from janusfit.models import RedshiftGrid, get_model

LOG10_SCALE = 5.0 / np.log(10.0)
SPEC = {"kind": "sn", "format": "jla_lcparams"}


@pytest.fixture(scope="module")
def jla_file(public_data):
    return public_data / "jla" / "jla_lcparams.txt"


@pytest.fixture(scope="module")
def raw(jla_file):
    """The file's columns by header name, read with numpy alone."""
    names = jla_file.read_text().partition("\n")[0].lstrip("#").split()
    table = np.genfromtxt(jla_file, skip_header=1, dtype=None, encoding="utf-8", names=names)
    return {name: np.asarray(table[name], dtype=float) for name in names if name != "name"}


@pytest.fixture(scope="module")
def jla740(jla_file):
    # pecz as Cobaya's .dataset and _explicit below count it (JLA's own reading is 0)
    return load_dataset("jla740", {**SPEC, "path": str(jla_file), "pecz": 0.001})


def _explicit(raw, model, theta, alpha, beta, pecz=0.001, sys_cov=None):
    """Δ (without M) and the covariance at (α, β), written out from the columns."""
    z, zhel = raw["zcmb"], raw["zhel"]
    d_m = get_model(model).transverse_distance(np.atleast_2d(theta), RedshiftGrid(z, graded=False))[0]
    mu_model = 5.0 * np.log10((1.0 + zhel) / (1.0 + z) * (1.0 + z) * d_m)
    delta = raw["mb"] + alpha * raw["x1"] - beta * raw["color"] - mu_model
    var = (
        raw["dmb"] ** 2
        + alpha**2 * raw["dx1"] ** 2
        + beta**2 * raw["dcolor"] ** 2
        + 2 * alpha * raw["cov_m_s"]
        - 2 * beta * raw["cov_m_c"]
        - 2 * alpha * beta * raw["cov_s_c"]
        + (5 / np.log(10)) ** 2 * pecz**2 * ((1 + z) / (z * (1 + z / 2))) ** 2
    )
    cov = np.diag(var) if sys_cov is None else sys_cov + np.diag(var)
    return delta, cov


def _brute_force_chi2(delta, cov, groups):
    """−2 ln ∫ exp(−χ²(M)/2) dᵏM by adaptive quadrature over the magnitudes (k = 1 or 2)."""
    k = groups.max() + 1
    x = np.eye(k)[groups]
    # χ²(M) = |L⁻¹(Δ − XM)|², C = LLᵀ: the definition, with L⁻¹ applied once.
    chol = np.linalg.cholesky(cov)
    y, xw = np.linalg.solve(chol, delta), np.linalg.solve(chol, x)
    inv_x = xw.T @ xw

    def chi2(m):
        r = y - xw @ np.atleast_1d(m)
        return r @ r

    best = optimize.minimize(
        chi2,
        np.full(k, np.mean(delta)),
        method="Nelder-Mead",
        options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20000},
    )
    m0, c0 = best.x, best.fun
    width = 12.0 / np.sqrt(np.diag(inv_x))  # 12 σ of each magnitude

    def weight(*m):
        return np.exp(-0.5 * (chi2(np.array(m[::-1])) - c0))

    if k == 1:
        value, _ = integrate.quad(weight, m0[0] - width[0], m0[0] + width[0], epsabs=0, epsrel=1e-11)
    else:
        value, _ = integrate.dblquad(
            weight, m0[0] - width[0], m0[0] + width[0], m0[1] - width[1], m0[1] + width[1], epsabs=0, epsrel=1e-10
        )
    return c0 - 2.0 * np.log(value)


@pytest.mark.parametrize(
    "model, theta, alpha, beta, split",
    [
        ("lcdm", [0.3], 0.141, 3.101, 10.0),
        ("janus", [-0.09], 0.12, 2.8, 10.0),
        ("lcdm", [0.25], 0.16, 3.4, None),
    ],
)
def test_analytic_marginalisation_equals_numerical_integration_over_both_magnitudes(
    raw, jla740, model, theta, alpha, beta, split
):
    like = LightCurveLikelihood(jla740, pecz=0.001, host_mass_split=split)
    ours = like.chi2(get_model(model), np.array([theta]), np.array([[alpha, beta]]))[0]
    delta, cov = _explicit(raw, model, theta, alpha, beta)
    groups = (raw["3rdvar"] > split).astype(int) if split is not None else np.zeros(delta.size, dtype=int)
    assert groups.max() == (0 if split is None else 1)
    # ours drops a constant from Δ (absorbed by the magnitudes): the χ² must not see it.
    assert ours == pytest.approx(_brute_force_chi2(delta, cov, groups), abs=1e-6)


def _synthetic_c_eta(n, seed=3):
    """A positive-definite 3N × 3N C_η, ordered (m_B, x1, c) per supernova as the release's C_η."""
    rng = np.random.default_rng(seed)
    g = rng.normal(scale=0.02, size=(3 * n, 40))
    return g @ g.T + np.diag(rng.uniform(1e-4, 4e-4, 3 * n))


def _release_blocks(c_eta):
    """The six N × N matrices of the release (jla_v0 … jla_vab) from C_η; cross blocks symmetrised."""
    block = {(i, j): c_eta[i::3, j::3] for i in range(3) for j in range(3)}

    def sym(a):
        return 0.5 * (a + a.T)

    return {
        "v0": block[0, 0],
        "va": block[1, 1],
        "vb": block[2, 2],
        "v0a": sym(block[0, 1]),
        "v0b": sym(block[0, 2]),
        "vab": sym(block[1, 2]),
    }


@pytest.mark.parametrize("alpha, beta", [(0.141, 3.101), (0.0, 1.5), (0.3, 4.5)])
def test_systematic_matrices_combine_as_a_c_eta_a_transpose(alpha, beta):
    n = 50
    c_eta = _synthetic_c_eta(n)
    a = np.zeros((n, 3 * n))
    a[np.arange(n), 3 * np.arange(n)] = 1.0
    a[np.arange(n), 3 * np.arange(n) + 1] = alpha
    a[np.arange(n), 3 * np.arange(n) + 2] = -beta
    np.testing.assert_allclose(
        systematic_covariance(_release_blocks(c_eta), alpha, beta), a @ c_eta @ a.T, rtol=1e-12, atol=1e-15
    )


def _with_covmats(dataset, covmats):
    return replace(dataset, light_curves=replace(dataset.light_curves, covmats=covmats))


def test_analytic_marginalisation_with_systematic_matrices_equals_numerical_integration(raw, jla740):
    covmats = _release_blocks(_synthetic_c_eta(jla740.n))
    like = LightCurveLikelihood(_with_covmats(jla740, covmats), pecz=0.001, host_mass_split=10.0)
    assert like.has_systematics
    alpha, beta = 0.13, 3.0
    ours = like.chi2(get_model("lcdm"), np.array([[0.3]]), np.array([[alpha, beta]]))[0]
    delta, cov = _explicit(raw, "lcdm", [0.3], alpha, beta, sys_cov=systematic_covariance(covmats, alpha, beta))
    assert ours == pytest.approx(_brute_force_chi2(delta, cov, (raw["3rdvar"] > 10).astype(int)), abs=1e-6)


def test_full_path_with_zero_systematics_equals_the_diagonal_path(jla740):
    zeros = {key: np.zeros((jla740.n, jla740.n)) for key in COVMAT_KEYS}
    model = get_model("janus")
    theta, nuisance = np.array([[-0.1], [-0.05]]), np.array([[0.14, 3.1], [0.2, 2.0]])
    for log_det in (False, True):
        diag = LightCurveLikelihood(jla740, pecz=0.001, host_mass_split=10.0, log_det_cov=log_det)
        full = LightCurveLikelihood(_with_covmats(jla740, zeros), pecz=0.001, host_mass_split=10.0, log_det_cov=log_det)
        np.testing.assert_allclose(full.chi2(model, theta, nuisance), diag.chi2(model, theta, nuisance), rtol=1e-10)


def test_log_det_cov_adds_the_log_determinant_of_the_covariance(jla740):
    model, theta = get_model("lcdm"), np.array([[0.3], [0.3]])
    nuisance = np.array([[0.141, 3.101], [0.1, 2.5]])
    without = LightCurveLikelihood(jla740, pecz=0.001, host_mass_split=10.0)
    with_det = LightCurveLikelihood(jla740, pecz=0.001, host_mass_split=10.0, log_det_cov=True)
    log_det = [np.sum(np.log(without.variance(a, b))) for a, b in nuisance]
    np.testing.assert_allclose(
        with_det.chi2(model, theta, nuisance) - without.chi2(model, theta, nuisance), log_det, rtol=1e-12
    )
    # It depends on (α, β): the choice changes the posterior of α and β.
    assert abs(log_det[0] - log_det[1]) > 10


def _least_squares_chi2(delta, cov, groups):
    """min over the magnitudes of (Δ − XM)ᵀC⁻¹(Δ − XM): least squares on the whitened system."""
    lower = np.linalg.cholesky(cov)
    x, y = np.linalg.solve(lower, np.eye(groups.max() + 1)[groups]), np.linalg.solve(lower, delta)
    residual = y - x @ np.linalg.lstsq(x, y, rcond=None)[0]
    return float(residual @ residual)


@pytest.mark.parametrize("systematics", [False, True], ids=["diagonal", "covmats"])
@pytest.mark.parametrize("log_det", [False, True], ids=["no_log_det", "log_det_cov"])
def test_profile_chi2_is_the_residuals_chi2_at_the_best_magnitudes(raw, jla740, systematics, log_det):
    covmats = _release_blocks(_synthetic_c_eta(jla740.n)) if systematics else None
    data = _with_covmats(jla740, covmats) if systematics else jla740
    spec = {**SPEC, "log_det_cov": log_det}
    post = Posterior(get_model("lcdm"), [replace(data, reading={**data.reading, **spec})])
    assert post.sn[0].log_det_cov is log_det
    groups = (raw["3rdvar"] > 10).astype(int)
    for theta in ([0.3, 0.141, 3.101], [0.2, 0.1, 2.5]):
        om, alpha, beta = theta
        sys_cov = systematic_covariance(covmats, alpha, beta) if systematics else None
        delta, cov = _explicit(raw, "lcdm", [om], alpha, beta, sys_cov=sys_cov)
        assert post.profile_chi2(np.array(theta))[0] == pytest.approx(_least_squares_chi2(delta, cov, groups), rel=1e-9)


def test_the_hubble_diagram_of_light_curves_is_standardised_at_the_best_fit(raw, jla740):
    """The audit's case: hubble.png showed raw m_B with dm_B as "μ (+ const)", whose χ² was 4807 for a fit of 723."""
    from janusfit.diagnostics.curves import model_curves

    post = Posterior(get_model("lcdm"), [jla740])
    best = {"Om": 0.2867, "alpha": 0.1400, "beta": 3.1421}
    (curve,) = model_curves(post, best, np.array([list(best.values())]))
    delta, cov = _explicit(raw, "lcdm", [best["Om"]], best["alpha"], best["beta"])
    groups = (raw["3rdvar"] > 10).astype(int)
    np.testing.assert_allclose(curve["errors"], np.sqrt(np.diag(cov)), rtol=1e-12)
    plotted = np.sum(((curve["values"] - curve["best_at_data"]) / curve["errors"]) ** 2)
    assert plotted == pytest.approx(_least_squares_chi2(delta, cov, groups), rel=1e-9)
    assert plotted == pytest.approx(post.profile_chi2(np.array(list(best.values())))[0], rel=1e-9)


def test_posterior_samples_alpha_and_beta_with_the_declared_priors(jla_file):
    spec = {**SPEC, "path": str(jla_file), "pecz": 0, "nuisance_priors": {"alpha": [0.05, 0.25]}}
    post = Posterior(get_model("janus"), [load_dataset("jla740", spec)])
    assert post.param_names == ("q0", "alpha", "beta")
    np.testing.assert_array_equal(post.bounds[1:], [[0.05, 0.25], [1.5, 4.5]])
    assert post.labels["alpha"] == r"$\alpha$"
    assert post([[-0.1, 0.3, 3.0]])[0] == -np.inf  # α outside its prior


# --- Cobaya's sn.jla on the same file ---------------------------------------------------------


@pytest.fixture(scope="module")
def cobaya_packages(tmp_path_factory, jla_file):
    """Cobaya's packages path with a CosmoMC .dataset for sn.jla on the shared file, statistical errors only.

    Cobaya needs at least one covariance file; an all-zero stretch matrix adds
    nothing and switches on its α, β-dependent statistical variance.
    """
    pytest.importorskip("cobaya")
    packages = tmp_path_factory.mktemp("cobaya_packages")
    sn_data = packages / "data" / "sn_data"
    root = sn_data / "JLA"
    root.mkdir(parents=True)
    (sn_data / "version.dat").write_text("v1.8\n")
    (root / "jla_lcparams.txt").symlink_to(jla_file)
    n = 740
    (root / "zeros.dat").write_text(f"{n}\n" + "0\n" * (n * n))
    (root / "jla.dataset").write_text(
        "name = JLA\ndata_file = JLA/jla_lcparams.txt\npecz = 0.001\nintrinsicdisp = 0\n"
        "twoscriptmfit = T\nscriptmcut = 10.0\nhas_stretch_covmat = T\nstretch_covmat_file = JLA/zeros.dat\n"
    )
    return packages


@pytest.mark.parametrize(
    "theory, model, param, values",
    [
        ("Janus", "janus", "q0", [-0.2, -0.1, -0.05, 0.0]),
        ("LCDM", "lcdm", "Om", [0.15, 0.3, 0.45]),
    ],
)
def test_cobaya_sn_jla_log_likelihood_differences_equal_janusfit(cobaya_packages, jla740, theory, model, param, values):
    from cobaya.model import get_model as cobaya_model

    cobaya = cobaya_model(
        {
            "theory": {f"janusfit.cobaya_theory.{theory}": None},
            "likelihood": {"sn.jla": None},
            "params": {
                param: {"prior": {"min": -1.0, "max": 1.0}},
                "H0": 70.0,
                "alpha_jla": {"prior": {"min": 0.0, "max": 1.0}},
                "beta_jla": {"prior": {"min": 0.0, "max": 5.0}},
            },
            "packages_path": str(cobaya_packages),
        }
    )
    grid = np.array([(v, a, b) for v in values for a, b in ((0.141, 3.101), (0.10, 2.6), (0.18, 3.6))])
    theirs = np.array(
        [cobaya.loglike({param: v, "alpha_jla": a, "beta_jla": b}, return_derived=False) for v, a, b in grid]
    )
    ours = Posterior(get_model(model), [jla740]).log_likelihood(grid)
    assert np.all(np.isfinite(theirs))
    diff = (theirs - theirs[0]) - (ours - ours[0])
    assert np.max(np.abs(diff)) < 1e-6
    assert np.ptp(ours) > 10  # the grid spans many units of ln L


# --- D'Agostini & Petit (2018): JANUS on the 740 JLA supernovae ------------------------------


def test_janus_q0_reproduces_dagostini_petit_2018(jla740):
    """q0 = −0.087 ± 0.015 (Astrophys. Space Sci. 363:139) with α = 0.141, β = 3.101 fixed and diagonal errors.

    Their fit fixes M_B = −19.05; with H0 free, only M_B − 5 log10 H0 enters, the
    one offset marginalised here (no host-mass split). Their diagonal errors
    are the light-curve variance at (α, β) without a peculiar-velocity term
    (pecz = 0): the posterior, exact on a grid in q0 under a flat prior, is
    q0 = −0.0890 ± 0.0149; with pecz = 0.001 it is −0.0809 ± 0.0154.
    """
    like = LightCurveLikelihood(jla740, pecz=0.0, host_mass_split=None)
    q0 = np.linspace(-1.0 / (2.0 * jla740.z.max()) + 1e-6, 0.1, 20001)
    chi2 = like.chi2(get_model("janus"), q0[:, None], np.tile([0.141, 3.101], (q0.size, 1)))
    weight = np.exp(-0.5 * (chi2 - chi2.min()))
    mean = np.sum(q0 * weight) / weight.sum()
    sd = np.sqrt(np.sum((q0 - mean) ** 2 * weight) / weight.sum())
    assert abs(mean - (-0.087)) < 0.15 * 0.015
    assert sd == pytest.approx(0.015, rel=0.05)


def _velocity_dispersion_in_dmb(raw, z_max=0.05) -> float:
    """σ_v (km/s) whose redshift term the file's dmb already holds.

    dmb² = a + σ_v² g(z) fitted by least squares below ``z_max``, where the
    peculiar-velocity term falls as 1/z and dominates, g being the pecz term's
    (5/ln 10)² ((1 + z)/(z (1 + z/2)))² per (km/s)²; a absorbs the intrinsic
    dispersion and the fit errors (0.137 mag here).
    """
    low = raw["zcmb"] < z_max
    z = raw["zcmb"][low]
    g = (LOG10_SCALE / C_KM_S) ** 2 * ((1 + z) / (z * (1 + z / 2))) ** 2
    (_, variance), *_ = np.linalg.lstsq(np.column_stack([np.ones_like(z), g]), raw["dmb"][low] ** 2, rcond=None)
    return float(np.sqrt(variance))


def test_the_public_jla740_counts_the_peculiar_velocity_dispersion_once(repo, raw):
    """JLA's dmb already holds the 150 km/s of Betoule et al. 2014 (A&A 568, A22, §5.5).

    The fit finds 155 km/s below z = 0.05 (111 supernovae; 148 below 0.03),
    which is why CosmoMC's and Cobaya's JLA/jla.dataset read this file with
    pecz = 0. The likelihood's default pecz = 0.001 (300 km/s, the SNLS
    default) adds a second dispersion on top: 335 km/s in all, which widens
    the low-z errors and moves JANUS's q0 by half a σ (the test above).
    """
    import yaml

    from janusfit.data.lightcurves import options

    in_file = _velocity_dispersion_in_dmb(raw)
    assert 120 < in_file < 190
    spec = yaml.safe_load((repo / "config/public.yaml").read_text())["datasets"]["jla740"]
    assert 120 < np.hypot(in_file, options(spec)["pecz"] * C_KM_S) < 190


# --- the config: parameters, checks, what a change reruns ------------------------------------


def _config(jla_file, **options):
    from janusfit.config import check

    config = with_defaults(
        {"datasets": {"jla740": {**SPEC, "path": str(jla_file), "pecz": 0, **options}}, "models": ["janus", "lcdm"]}
    )
    check(config)
    return config


def test_config_samples_alpha_and_beta_after_the_model_parameters(jla_file):
    from janusfit.config import param_names

    config = _config(jla_file)
    assert param_names(config, "jla740", "janus") == ["q0", "alpha", "beta"]
    assert list(
        Posterior(get_model("janus"), [load_dataset("jla740", config["datasets"]["jla740"])]).param_names
    ) == param_names(config, "jla740", "janus")


@pytest.mark.parametrize(
    "options, key, message",
    [
        (
            {"nuisance_priors": {"alpha": [0.2, 0.1]}},
            "datasets.jla740.nuisance_priors.alpha",
            "lower bound 0.2 must be below upper bound 0.1",
        ),
        (
            {"nuisance_priors": {"beta": [1.0, float("inf")]}},
            "datasets.jla740.nuisance_priors.beta",
            "bounds must be finite numbers",
        ),
    ],
)
def test_bad_light_curve_options_name_their_key(jla_file, options, key, message):
    from janusfit.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        _config(jla_file, **options)
    assert f"config key '{key}'" in str(info.value) and message in str(info.value)


def _edited_row(jla_file, tmp_path, row: int, **values) -> Path:
    """A copy of the table with data row ``row`` (1-based) given ``values`` by column."""
    lines = jla_file.read_text().splitlines()
    names = lines[0].lstrip("#").split()
    cells = lines[row].split()
    for column, value in values.items():
        cells[names.index(column)] = value
    lines[row] = " ".join(cells)
    path = tmp_path / "jla_lcparams.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize(
    "values, message",
    [
        # The audit's row: a correlation of 1.45 passed validation, then the
        # log-likelihood was NaN for β < 4.3 and finite above, naming no row.
        (
            {"cov_m_c": "0.010439"},
            "data row 7 ('03D1ew'): the covariance of mb, x1 and color is not a covariance: 'cov_m_c' is a "
            "correlation of 1.45 with 'dmb' and 'dcolor'; m_B + alpha x1 - beta c would have a negative variance "
            "for some alpha and beta",
        ),
        ({"dx1": "-0.15"}, "data row 7, column 'dx1': error must be > 0, got -0.15"),
        ({"dcolor": "0"}, "data row 7, column 'dcolor': error must be > 0, got 0"),
    ],
    ids=["correlation_above_1", "negative_dx1", "zero_dcolor"],
)
def test_a_light_curve_row_with_impossible_errors_is_refused_naming_it(jla_file, tmp_path, values, message):
    path = _edited_row(jla_file, tmp_path, 7, **values)
    with pytest.raises(DataError) as raised:
        load_dataset("jla740", {**SPEC, "path": str(path), "pecz": 0})
    assert str(raised.value) == f"data file '{path}': {message}"


def test_correlations_each_possible_but_not_together_are_refused(jla_file, tmp_path):
    # ρ(m,x1) = ρ(m,c) = 0.9 and ρ(x1,c) = −0.9: each within ±1, the matrix not positive semi-definite.
    names = jla_file.read_text().splitlines()[0].lstrip("#").split()
    row = jla_file.read_text().splitlines()[7].split()
    dmb, dx1, dc = (float(row[names.index(c)]) for c in ("dmb", "dx1", "dcolor"))
    path = _edited_row(
        jla_file,
        tmp_path,
        7,
        cov_m_s=repr(0.9 * dmb * dx1),
        cov_m_c=repr(0.9 * dmb * dc),
        cov_s_c=repr(-0.9 * dx1 * dc),
    )
    with pytest.raises(
        DataError,
        match=r"data row 7 \('03D1ew'\): .* the correlations cov_m_s 0\.9, cov_m_c 0\.9, "
        r"cov_s_c -0\.9 cannot hold together",
    ):
        load_dataset("jla740", {**SPEC, "path": str(path), "pecz": 0})


@pytest.mark.parametrize("split, side", [(1e10, "at or below"), (4, "above")], ids=["solar_masses", "below_all"])
def test_a_host_mass_split_leaving_one_side_empty_is_refused(jla_file, split, side):
    """The audit's case: the mass (1e10) written for its log10 gave the unsplit fit, silently (ln L −1061.24 for −1049.57)."""
    with pytest.raises(ConfigError) as raised:
        load_dataset("jla740", {**SPEC, "path": str(jla_file), "pecz": 0, "host_mass_split": split})
    assert str(raised.value) == (
        f"config key 'datasets.jla740.host_mass_split': {split:g} puts all 740 supernovae {side} it (the table's "
        "3rdvar, log10 of the host's stellar mass in solar masses, runs from 5 to 11.817), so there is no second "
        "magnitude to fit; give a log10 mass inside that range, or null for one magnitude"
    )
    assert load_dataset("jla740", {**SPEC, "path": str(jla_file), "pecz": 0, "host_mass_split": None}).n == 740


def test_two_light_curve_samples_in_one_fit_are_refused(jla_file):
    from janusfit.config import check
    from janusfit.errors import ConfigError

    config = _config(jla_file)
    config["datasets"]["again"] = dict(config["datasets"]["jla740"])
    config["datasets"]["both"] = {"combine": ["jla740", "again"]}
    with pytest.raises(ConfigError, match="config key 'datasets.both.combine': 'jla740' and 'again' both sample"):
        check(config)


def test_cov_is_refused_for_light_curves(jla_file):
    from janusfit.errors import ConfigError

    message = "config key 'datasets.jla740.cov': format 'jla_lcparams' builds its covariance"
    with pytest.raises(ConfigError, match=message):
        _config(jla_file, cov=str(jla_file))
    with pytest.raises(ConfigError, match=message):
        load_dataset("jla740", {**SPEC, "path": str(jla_file), "pecz": 0, "cov": str(jla_file)})


@pytest.mark.parametrize(
    "option",
    [{"pecz": 0.001}, {"host_mass_split": None}, {"log_det_cov": True}, {"nuisance_priors": {"alpha": [0.0, 0.5]}}],
)
def test_every_light_curve_option_reruns_the_data_and_changes_the_fingerprint(jla_file, option):
    """Each option is read by inspect_data (its params), so it reruns every job of the dataset, and no
    checkpoint made without it is resumed."""
    from janusfit.data.sources import identity
    from janusfit.sampling.fingerprint import differences

    base, changed = _config(jla_file), _config(jla_file, **option)
    assert identity(base, ["jla740"]) != identity(changed, ["jla740"])
    key = next(iter(option))
    assert any(
        line.startswith(f"data.jla740.reading.{key}") for line in differences(_fingerprint(base), _fingerprint(changed))
    )


def _fingerprint(config):
    from janusfit.sampling.fingerprint import make_fingerprint

    dataset = load_dataset("jla740", config["datasets"]["jla740"])
    return make_fingerprint(Posterior(get_model("janus"), [dataset]), "emcee", {})


@pytest.mark.parametrize(
    "option",
    [
        {"host_mass_split": 10},
        {"log_det_cov": False},
        {"nuisance_priors": {"alpha": [0, 0.3], "beta": [1.5, 4.5]}},
        {"nuisance_priors": {"beta": [1.5, 4.5]}},
        {"nuisance_priors": {}},
    ],
)
def test_a_light_curve_option_written_at_its_default_is_the_reading_that_leaves_it_out(jla_file, option):
    """inspect_data's params and the fingerprint are those of the option left out, as public.yaml's jla740
    and every finished run recorded them: writing a default out reruns nothing and resumes every checkpoint."""
    from janusfit.data.sources import identity

    base, explicit = _config(jla_file), _config(jla_file, **option)
    assert identity(explicit, ["jla740"]) == identity(base, ["jla740"])
    assert _fingerprint(explicit) == _fingerprint(base)
    assert _fingerprint(explicit)["data"]["jla740"]["reading"] == {**SPEC, "pecz": 0}


def test_a_nuisance_prior_bound_written_as_an_integer_is_the_same_reading(jla_file):
    """The review's case: alpha: [0, 0.2] and [0.0, 0.2] reran inspect_data and every job after it."""
    from janusfit.data.sources import identity

    as_int = _config(jla_file, nuisance_priors={"alpha": [0, 0.2]})
    as_float = _config(jla_file, nuisance_priors={"alpha": [0.0, 0.2]})
    assert identity(as_int, ["jla740"]) == identity(as_float, ["jla740"])
    assert _fingerprint(as_int) == _fingerprint(as_float)


@pytest.mark.parametrize(("key", "as_int", "as_float"), [("pecz", 0, 0.0), ("host_mass_split", 9, 9.0)])
def test_a_whole_number_written_as_a_float_is_the_same_reading(jla_file, key, as_int, as_float):
    """The audit's case: pecz 0.0 over a run made with public.yaml's pecz 0 reran inspect_data and 12 jobs after it."""
    from janusfit.data.sources import identity

    written_int, written_float = _config(jla_file, **{key: as_int}), _config(jla_file, **{key: as_float})
    assert identity(written_float, ["jla740"]) == identity(written_int, ["jla740"])
    assert _fingerprint(written_float) == _fingerprint(written_int)
    assert _fingerprint(written_float)["data"]["jla740"]["reading"][key] == as_int


def test_an_option_changed_to_its_default_is_shown_as_a_change_of_value(jla_file, tmp_path):
    """The audit's case: pecz 0.001 written over a run made with pecz 0 was refused as
    'reading.pecz: removed (was 0)', where the config wrote it out (pecz is required)."""
    from janusfit.errors import FingerprintError
    from janusfit.sampling.fingerprint import check_fingerprint

    stored = _fingerprint(_config(jla_file))
    for options, shown in (
        ({"pecz": 0.001}, "data.jla740.reading.pecz: 0 -> 0.001"),
        ({"host_mass_split": None}, "data.jla740.reading.host_mass_split: 10.0 -> None"),
        (
            {"nuisance_priors": {"beta": [2.0, 4.0]}},
            "data.jla740.reading.nuisance_priors.beta: [1.5, 4.5] -> [2.0, 4.0]",
        ),
    ):
        with pytest.raises(FingerprintError) as info:
            check_fingerprint(stored, _fingerprint(_config(jla_file, **options)), tmp_path)
        assert shown in info.value.differences, info.value.differences
        assert not any("removed" in d or "added" in d for d in info.value.differences if ".reading." in d)


def test_jla_lcparams_without_pecz_is_refused_naming_the_key(jla_file):
    """Left out, pecz was 0.001, which counts JLA's peculiar velocities twice
    (``test_the_public_jla740_counts_the_peculiar_velocity_dispersion_once``): the table decides it, so the
    config, and any reading of the table, must say it."""
    from janusfit.config import check
    from janusfit.errors import ConfigError

    spec = _without_pecz(_config(jla_file))["datasets"]["jla740"]
    for read in (lambda: check(_without_pecz(_config(jla_file))), lambda: load_dataset("jla740", spec)):
        with pytest.raises(ConfigError) as info:
            read()
        assert str(info.value).startswith(
            "config key 'datasets.jla740.pecz': is required for format 'jla_lcparams': the peculiar-velocity dispersion"
        )
        assert "write 'pecz: 0'" in str(info.value)


def test_a_run_made_with_pecz_left_out_resumes_with_pecz_0_001_written_out(jla_file, tmp_path):
    """Before pecz was required, leaving it out read the file with 0.001 and recorded the reading without pecz:
    the config that writes 0.001 out has that reading, so nothing reruns for the data and the checkpoint resumes."""
    from janusfit.data.sources import identity
    from janusfit.sampling.fingerprint import check_fingerprint

    written = _config(jla_file, pecz=0.001)
    assert identity(written, ["jla740"]) == identity(_without_pecz(written), ["jla740"])
    current = _fingerprint(written)
    assert current["data"]["jla740"]["reading"] == SPEC
    stored = {**current, "data": {"jla740": {**current["data"]["jla740"], "reading": dict(SPEC)}}}
    assert check_fingerprint(stored, current, tmp_path) == []


def _without_pecz(config):
    return {**config, "datasets": {"jla740": {k: v for k, v in config["datasets"]["jla740"].items() if k != "pecz"}}}


def test_a_checkpoint_that_recorded_a_default_written_out_resumes(jla_file, tmp_path):
    """Runs made before defaults were left out of the reading recorded ``pecz: 0.001`` as the config wrote it."""
    from janusfit.sampling.fingerprint import check_fingerprint

    stored = _fingerprint(_config(jla_file))
    stored["data"]["jla740"]["reading"] = {**SPEC, "pecz": 0.001, "nuisance_priors": {"alpha": [0.0, 0.3]}}
    check_fingerprint(stored, _fingerprint(_config(jla_file, pecz=0.001)), tmp_path)


# --- the release's systematic matrices through the config ------------------------------------


def _write_release_matrix(path, matrix):
    """The release's layout: N on the first line, then the N*N values one per line, row-major."""
    path.write_text(f"{matrix.shape[0]}\n" + "\n".join(f"{v:.17g}" for v in matrix.ravel()) + "\n")


@pytest.fixture
def small_release(tmp_path, jla_file):
    """The first 60 supernovae of the real file, with six synthetic systematic matrices in the release's format."""
    n = 60
    lines = jla_file.read_text().splitlines()
    (tmp_path / "lc.txt").write_text("\n".join(lines[: n + 1]) + "\n")
    c_eta = _synthetic_c_eta(n, seed=5)
    covmats = {}
    for key, matrix in _release_blocks(c_eta).items():
        covmats[key] = str(tmp_path / f"jla_{key}_covmatrix.dat")
        _write_release_matrix(tmp_path / f"jla_{key}_covmatrix.dat", matrix)
    return {**SPEC, "path": str(tmp_path / "lc.txt"), "pecz": 0, "covmats": covmats}, c_eta


def test_systematic_matrices_from_the_config_give_the_explicit_a_c_eta_a_transpose(small_release):
    spec, c_eta = small_release
    dataset = load_dataset("small", spec)
    like = LightCurveLikelihood.from_dataset(dataset)
    n = dataset.n
    alpha, beta = 0.14, 3.1
    a = np.zeros((n, 3 * n))
    a[np.arange(n), 3 * np.arange(n)] = 1.0
    a[np.arange(n), 3 * np.arange(n) + 1] = alpha
    a[np.arange(n), 3 * np.arange(n) + 2] = -beta
    np.testing.assert_allclose(
        like.covariance(alpha, beta), a @ c_eta @ a.T + np.diag(like.variance(alpha, beta)), rtol=1e-12, atol=1e-15
    )
    # the χ² with these matrices: the marginalised formula written out with explicit inverses
    model, theta = get_model("lcdm"), np.array([[0.3]])
    log_d = np.log(model.transverse_distance(theta, like.grid))[0]
    delta = like.residuals(log_d, alpha, beta)
    inv = np.linalg.inv(a @ c_eta @ a.T + np.diag(like.variance(alpha, beta)))
    x = np.eye(like.n_groups)[like.groups]
    f, b = x.T @ inv @ x, x.T @ inv @ delta
    expected = delta @ inv @ delta - b @ np.linalg.solve(f, b) + np.linalg.slogdet(f / (2 * np.pi))[1]
    assert like.chi2(model, theta, np.array([[alpha, beta]]))[0] == pytest.approx(expected, abs=1e-8)


def test_systematic_matrix_files_are_checksummed_and_rerun_when_changed(small_release):
    from janusfit.data.sources import identity

    spec, _ = small_release
    dataset = load_dataset("small", spec)
    assert set(dataset.sha256) == {"path", *(f"covmats.{k}" for k in COVMAT_KEYS)}
    config = {"datasets": {"small": spec}}
    before = identity(config, ["small"])
    path = spec["covmats"]["vab"]
    matrix = np.loadtxt(path)[1:].reshape(60, 60)
    _write_release_matrix(Path(path), 1.01 * matrix)
    assert identity(config, ["small"]) != before
    assert load_dataset("small", spec).arrays_sha256 != dataset.arrays_sha256


def test_an_asymmetric_systematic_matrix_is_refused_naming_the_file(small_release):
    from janusfit.errors import DataError

    spec, _ = small_release
    path = spec["covmats"]["v0a"]
    matrix = np.loadtxt(path)[1:].reshape(60, 60)
    matrix[3, 7] += 1e-3
    _write_release_matrix(Path(path), matrix)
    with pytest.raises(DataError, match=r"jla_v0a_covmatrix.dat.*not symmetric: worst at \[4, 8\]"):
        load_dataset("small", spec)
