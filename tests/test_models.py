"""Models against exact solutions and independent references.

References used here, none of them janusfit code:
- astropy.cosmology FlatLambdaCDM / FlatwCDM (Tcmb0=0, so no radiation, as in
  janusfit) for flat distances;
- scipy.integrate.quad of 1/E(z), with E(z) written out in the test;
- the Mattig closed form of d_L and the Milne law d_L = z + z²/2 for JANUS
  (D'Agostini & Petit 2018), and the open-FRW relation
  D_M = sinh(√Ωk χ)/√Ωk with Ωm = 2 q0, Ωk = 1 − 2 q0 that the Mattig form
  solves;
- a closed-form antiderivative for the JANUS age.

janusfit distance moduli are defined up to the additive constant
5 log10(c/H0 [Mpc]) + 25, which is subtracted exactly from astropy's distmod.
"""

from __future__ import annotations

import math
import sys
from decimal import Decimal, getcontext

import numpy as np
import pytest
from astropy import units as u
from astropy.constants import c as speed_of_light
from astropy.cosmology import FlatLambdaCDM, FlatwCDM, LambdaCDM
from scipy.integrate import quad

from janusfit.models import MODELS, Model, RedshiftGrid, get_model
from janusfit.models import janus as janus_module

H0 = 70.0
C_KMS = speed_of_light.to(u.km / u.s).value  # 299792.458 exactly
MU_OFFSET = 5.0 * np.log10(C_KMS / H0) + 25.0  # μ_astropy − μ_janusfit

# Unsorted, with repeated values and very small redshifts, up to 2.5.
Z_TEST = np.array([0.5, 1e-3, 2.5, 0.01, 1.3, 0.5, 0.05, 2.0, 1e-3, 0.2, 0.8999, 0.9, 1.75, 0.333, 2.5])
OM_VALUES = [0.01, 0.1, 0.3, 0.7, 1.0]


def _mu_quad(inv_e, z):
    """5 log10[(1+z) ∫_0^z dz'/E] by adaptive quadrature, one redshift at a time."""
    out = []
    for zi in z:
        dc, _ = quad(inv_e, 0.0, zi, epsabs=0.0, epsrel=1e-13, limit=200)
        out.append(5.0 * np.log10((1.0 + zi) * dc))
    return np.array(out)


def _mattig_dl(q0, z):
    """Mattig's luminosity distance in units of c/H0 (cancels badly as q0 → 0)."""
    return (q0 * z + (1.0 - q0) * (1.0 - np.sqrt(1.0 + 2.0 * q0 * z))) / q0**2


# ---------------------------------------------------------------- flat ΛCDM


@pytest.mark.parametrize("om", OM_VALUES)
def test_lcdm_distance_modulus_matches_astropy(om):
    model = get_model("lcdm")
    mu = model.distance_modulus(np.array([[om]]), Z_TEST)[0]
    ref = FlatLambdaCDM(H0=H0, Om0=om, Tcmb0=0).distmod(Z_TEST).to_value(u.mag)
    np.testing.assert_allclose(mu + MU_OFFSET, ref, rtol=0, atol=1e-6)
    # The same statement without the constant: differences to a reference redshift.
    np.testing.assert_allclose(mu - mu[0], ref - ref[0], rtol=0, atol=1e-6)


@pytest.mark.parametrize("om", OM_VALUES)
def test_lcdm_distance_modulus_matches_quad(om):
    model = get_model("lcdm")
    mu = model.distance_modulus(np.array([[om]]), Z_TEST)[0]
    ref = _mu_quad(lambda z: 1.0 / math.sqrt(om * (1 + z) ** 3 + 1 - om), Z_TEST)
    np.testing.assert_allclose(mu, ref, rtol=0, atol=1e-6)


def test_lcdm_E_is_the_friedmann_equation():
    z = np.array([0.0, 0.5, 1.0, 2.0])
    om = 0.3
    expected = np.sqrt(om * (1 + z) ** 3 + 1 - om)
    np.testing.assert_allclose(get_model("lcdm").E(np.array([[om]]), z)[0], expected, rtol=1e-15)
    # Einstein–de Sitter: E = (1+z)^{3/2}; de Sitter limit Om → 0: E = 1.
    np.testing.assert_allclose(get_model("lcdm").E(np.array([[1.0]]), z)[0], (1 + z) ** 1.5, rtol=1e-15)
    np.testing.assert_allclose(get_model("lcdm").E(np.array([[0.0]]), z)[0], np.ones_like(z), rtol=1e-15)


def test_einstein_de_sitter_exact():
    """Om = 1: D_M = 2[1 − (1+z)^{-1/2}] exactly (c/H0 units)."""
    z = Z_TEST
    mu = get_model("lcdm").distance_modulus(np.array([[1.0]]), z)[0]
    exact = 5.0 * np.log10((1 + z) * 2.0 * (1.0 - 1.0 / np.sqrt(1 + z)))
    np.testing.assert_allclose(mu, exact, rtol=0, atol=1e-9)


@pytest.mark.parametrize("om,w", [(0.3, -1.0), (0.01, -2.5), (1.0, -1.0), (0.05, 0.0), (0.5, -0.3)])
def test_quadrature_relative_accuracy_claim(om, w):
    """The RedshiftGrid docstring promises D_M to 1e-9 relative for the shipped flat models."""
    theta = np.array([[om, w]])
    dm = get_model("wcdm").transverse_distance(theta, RedshiftGrid(Z_TEST))[0]
    ref = np.array(
        [
            quad(
                lambda x: 1 / math.sqrt(om * (1 + x) ** 3 + (1 - om) * (1 + x) ** (3 * (1 + w))),
                0,
                zi,
                epsabs=0,
                epsrel=1e-13,
                limit=200,
            )[0]
            for zi in Z_TEST
        ]
    )
    np.testing.assert_allclose(dm, ref, rtol=1e-9, atol=0)


def test_zhel_enters_only_the_one_plus_z_factor():
    model = get_model("lcdm")
    z = np.array([0.5, 0.1, 1.0, 0.1])
    zhel = z + np.array([0.001, -0.002, 0.003, 0.0005])
    theta = np.array([[0.3]])
    diff = model.distance_modulus(theta, z, zhel)[0] - model.distance_modulus(theta, z)[0]
    np.testing.assert_allclose(diff, 5 * np.log10((1 + zhel) / (1 + z)), rtol=0, atol=1e-12)


# ---------------------------------------------------------------- flat wCDM


@pytest.mark.parametrize("om", [0.05, 0.3, 1.0])
def test_wcdm_with_w_minus_one_is_lcdm(om):
    mu_w = get_model("wcdm").distance_modulus(np.array([[om, -1.0]]), Z_TEST)
    mu_l = get_model("lcdm").distance_modulus(np.array([[om]]), Z_TEST)
    np.testing.assert_allclose(mu_w, mu_l, rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        get_model("wcdm").E(np.array([[om, -1.0]]), Z_TEST), get_model("lcdm").E(np.array([[om]]), Z_TEST), rtol=1e-14
    )


@pytest.mark.parametrize("om", [0.01, 0.3, 0.7])
@pytest.mark.parametrize("w", [-2.5, -1.5, -1.0, -0.7, -0.3, 0.0])
def test_wcdm_matches_astropy(om, w):
    mu = get_model("wcdm").distance_modulus(np.array([[om, w]]), Z_TEST)[0]
    ref = FlatwCDM(H0=H0, Om0=om, w0=w, Tcmb0=0).distmod(Z_TEST).to_value(u.mag)
    np.testing.assert_allclose(mu + MU_OFFSET, ref, rtol=0, atol=1e-6)


# ---------------------------------------------------------------- ΛCDM with curvature


@pytest.mark.parametrize(
    "om, ol",
    [(0.3, 0.7), (0.3, 0.2), (0.01, 0.0), (0.2, 1.0), (1.0, 1.0), (0.5, 0.9)],
    ids=["flat", "open", "open-empty", "closed", "closed-most", "closed-mild"],
)
def test_curved_lcdm_matches_astropy(om, ol):
    """D_M bends D_C by Ωk; D_C alone, which a curved model defining only E got, is 0.24 mag short at z = 2.5 (0.3, 0.2)."""
    mu = get_model("olcdm").distance_modulus(np.array([[om, ol]]), Z_TEST)[0]
    ref = LambdaCDM(H0=H0, Om0=om, Ode0=ol, Tcmb0=0).distmod(Z_TEST).to_value(u.mag)
    np.testing.assert_allclose(mu + MU_OFFSET, ref, rtol=0, atol=1e-6)


def test_curved_lcdm_without_curvature_is_flat_lcdm():
    z = np.array([0.01, 0.5, 1.0, 2.26])
    np.testing.assert_allclose(
        get_model("olcdm").distance_modulus(np.array([[0.3, 0.7]]), z),
        get_model("lcdm").distance_modulus(np.array([[0.3]]), z),
        rtol=1e-14,
    )


def test_a_curvature_that_is_not_a_number_or_not_one_per_row_is_not_read_as_flat():
    """NaN fell through both branches to the flat distance; a scalar or a column raised numpy's or numba's errors."""
    from janusfit.models.curvature import bend

    comoving = np.array([[0.5, 1.0], [0.5, 1.0]])
    assert np.isnan(bend(comoving, np.array([np.nan, 0.0]))[0]).all()
    np.testing.assert_array_equal(bend(comoving, np.array([np.nan, 0.0]))[1], comoving[1])
    for wrong in (0.1, np.zeros((2, 1))):
        with pytest.raises(ValueError, match=r"omega_k must give one value per parameter vector, shape \(2,\)"):
            bend(comoving, wrong)


# ---------------------------------------------------------------- JANUS


@pytest.mark.parametrize("q0", [-0.5, -0.3, -0.2, -0.087, -0.05, -0.01])
def test_janus_matches_mattig(q0):
    z_lim = -1.0 / (2.0 * q0)
    z = np.concatenate([[1e-3, 0.01], np.linspace(0.05, min(2.5, 0.999 * z_lim), 40)])
    z = np.random.default_rng(1).permutation(z)
    mu = get_model("janus").distance_modulus(np.array([[q0]]), z)[0]
    ref = 5.0 * np.log10(_mattig_dl(q0, z))
    np.testing.assert_allclose(mu, ref, rtol=0, atol=1e-9)


@pytest.mark.parametrize("q0", [-0.4, -0.087, -1e-3])
def test_janus_distance_is_open_frw_with_negative_matter(q0):
    """Mattig's d_L solves E = (1+z)√(1+2q0 z): an open FRW with Ωm = 2q0 < 0, Ωk = 1 − 2q0.

    D_M = sinh(√Ωk χ)/√Ωk with χ = ∫ dz/E by quadrature: ties the shipped
    distance to the shipped E(z) independently of the Mattig algebra.
    """
    model = get_model("janus")
    theta = np.array([[q0]])
    z_lim = -1.0 / (2.0 * q0)
    z = np.array([1e-3, 0.1, 0.5, 1.0, min(2.5, 0.99 * z_lim)])
    ok = np.sqrt(1.0 - 2.0 * q0)
    chi = np.array(
        [quad(lambda x: 1 / ((1 + x) * math.sqrt(1 + 2 * q0 * x)), 0, zi, epsabs=0, epsrel=1e-13)[0] for zi in z]
    )
    dm_ref = np.sinh(ok * chi) / ok
    np.testing.assert_allclose(model.transverse_distance(theta, RedshiftGrid(z))[0], dm_ref, rtol=1e-10)
    # and E itself
    np.testing.assert_allclose(model.E(theta, z)[0], (1 + z) * np.sqrt(1 + 2 * q0 * z), rtol=1e-15)


def test_janus_q0_zero_is_milne():
    z = Z_TEST
    mu = get_model("janus").distance_modulus(np.array([[0.0]]), z)[0]
    np.testing.assert_allclose(mu, 5.0 * np.log10(z + z**2 / 2.0), rtol=0, atol=1e-12)


@pytest.mark.parametrize("q0", [-1e-12, 1e-12])
def test_janus_tiny_q0_is_milne_to_first_order(q0):
    """At |q0| = 1e-12 the shipped distance is Milne + O(q0); the Mattig form is garbage.

    Series: d_L = z + z²/2 − q0 z²(1+z)/2 + O(q0²) — the O(q0) term is ~1e-12 relative.
    """
    z = np.array([1e-3, 0.1, 0.5, 1.0, 2.0])
    mu = get_model("janus").distance_modulus(np.array([[q0]]), z)[0]
    milne = z + z**2 / 2.0
    series = milne - q0 * z**2 * (1 + z) / 2.0
    np.testing.assert_allclose(mu, 5.0 * np.log10(series), rtol=0, atol=1e-12)
    np.testing.assert_allclose(mu, 5.0 * np.log10(milne), rtol=0, atol=1e-10)
    with np.errstate(all="ignore"):
        mattig = 5.0 * np.log10(_mattig_dl(q0, z))
    # Cancellation: the numerator is O(q0² z²) ~ 1e-24 from terms O(1); the Mattig
    # form is off by far more than any tolerance (or not even finite).
    bad = ~np.isfinite(mattig) | (np.abs(mattig - 5.0 * np.log10(milne)) > 1e-2)
    assert np.all(bad), mattig - 5.0 * np.log10(milne)


@pytest.mark.parametrize("q0", [-1e-12, -1e-9, -1e-6, -1e-4, -1e-2, -0.2])
def test_janus_matches_mattig_in_50_digit_arithmetic(q0):
    """The Mattig form evaluated with 50 significant digits has no cancellation problem."""
    getcontext().prec = 50
    z = [1e-3, 0.1, 0.5, 1.0, 2.0]
    ref = []
    for zi in z:
        q, x = Decimal(q0), Decimal(zi)
        dl = (q * x + (1 - q) * (1 - (1 + 2 * q * x).sqrt())) / (q * q)
        ref.append(5.0 * math.log10(float(dl)))
    mu = get_model("janus").distance_modulus(np.array([[q0]]), np.array(z))[0]
    np.testing.assert_allclose(mu, ref, rtol=0, atol=1e-12)


def _janus_age_closed_form(q0):
    """∫_0^{z*} dz / [(1+z)² √(1 + 2 q0 z)], z* = −1/(2q0), by the antiderivative.

    With u = 1+z, a = 2q0 < 0, b = 1 − a > 0:
    ∫ du/(u²√(au+b)) = −√(au+b)/(b u) − a/(2b^{3/2}) ln|(√(au+b) − √b)/(√(au+b) + √b)|.
    """
    a = 2.0 * q0
    b = 1.0 - a

    def F(uu):
        r = math.sqrt(max(a * uu + b, 0.0))
        if r == 0.0:
            return 0.0  # both terms vanish at the upper limit (ln 1 = 0)
        return -r / (b * uu) - a / (2 * b**1.5) * math.log(abs((r - math.sqrt(b)) / (r + math.sqrt(b))))

    return F(1.0 - 1.0 / a) - F(1.0)


def test_janus_age_published_value():
    # D'Agostini & Petit 2018 best fit q0 = −0.087: T0 H0 ≈ 1.07.
    t = janus_module.age(-0.087)
    assert t == pytest.approx(1.07, abs=0.005)
    assert t == pytest.approx(_janus_age_closed_form(-0.087), rel=1e-9)


@pytest.mark.parametrize("q0", [-0.5, -0.2, -0.01])
def test_janus_age_closed_form(q0):
    assert janus_module.age(q0) == pytest.approx(_janus_age_closed_form(q0), rel=1e-8)


def test_janus_age_rejects_non_negative_q0():
    with pytest.raises(ValueError):
        janus_module.age(0.0)
    with pytest.raises(ValueError):
        janus_module.age(0.1)


def test_janus_domain():
    model = get_model("janus")
    # Exactly representable boundary cases: 1 + 2 q0 z_max == 0 exactly.
    for q0, z_max in [(-0.25, 2.0), (-0.125, 4.0), (-0.5, 1.0)]:
        assert not model.in_domain(np.array([[q0]]), z_max)[0]
        assert not model.in_domain(np.array([[np.nextafter(q0, -1.0)]]), z_max)[0]
        assert model.in_domain(np.array([[np.nextafter(q0, 0.0)]]), z_max)[0]
    theta = np.array([[-0.5], [-0.3], [-0.222], [-0.2], [-0.087], [0.0]])
    z_max = 2.26226  # Union3's last node
    np.testing.assert_array_equal(model.in_domain(theta, z_max), 1 + 2 * theta[:, 0] * z_max > 0)
    np.testing.assert_array_equal(model.in_domain(theta, z_max), [False, False, False, True, True, True])


def test_flat_models_have_no_domain_limit():
    for name, theta in [("lcdm", [[0.01], [1.0]]), ("wcdm", [[0.3, -2.5], [0.3, 0.0]])]:
        assert np.all(get_model(name).in_domain(np.array(theta), 1e3))


# ---------------------------------------------------------------- registry


def test_registry_contents():
    assert {"janus", "lcdm", "wcdm"} <= set(MODELS)
    for name in ("janus", "lcdm", "wcdm"):
        m = get_model(name)
        assert isinstance(m, MODELS[name]) and m.name == name
        assert set(m.params) == set(m.default_priors) == set(m.labels)
    assert get_model("janus").params == ("q0",)
    assert get_model("lcdm").params == ("Om",)
    assert get_model("wcdm").params == ("Om", "w")


def test_unknown_model_lists_known_names():
    with pytest.raises(KeyError) as exc:
        get_model("nope")
    msg = str(exc.value)
    assert "nope" in msg
    for name in ("janus", "lcdm", "wcdm"):
        assert name in msg


def test_new_subclass_registers_itself(scratch_registry):
    name = "_test_models_einstein_de_sitter"
    assert name not in MODELS

    class EdS(Model):
        params = ()
        labels = {}
        default_priors = {}

        def E(self, theta, z):
            return np.broadcast_to((1.0 + z) ** 1.5, (len(theta), np.size(z)))

    EdS.name = name  # set after creation: not registered (no name at class creation)
    assert name not in MODELS

    class EdSNamed(EdS):
        name = "_test_models_einstein_de_sitter"

    assert MODELS[name] is EdSNamed
    m = get_model(name)
    z = np.array([0.5, 1.0])
    mu = m.distance_modulus(np.zeros((1, 0)), z)[0]
    np.testing.assert_allclose(mu, 5 * np.log10((1 + z) * 2 * (1 - 1 / np.sqrt(1 + z))), atol=1e-9)

    # A subclass without its own name is not registered again (no duplicate error).
    class Child(EdSNamed):
        pass

    assert MODELS[name] is EdSNamed


def test_duplicate_name_raises(scratch_registry):
    """The message names both classes and their files: it named neither, and the second is the user's."""
    original = MODELS["lcdm"]
    with pytest.raises(ValueError) as err:

        class Again(Model):
            name = "lcdm"
            params = ("Om",)
            labels = {"Om": "Om"}
            default_priors = {"Om": (0.0, 1.0)}

    assert str(err.value) == (
        f"model class Again in {__name__} ({__file__}) has the name 'lcdm' of FlatLCDM in janusfit.models.lcdm "
        f"({sys.modules['janusfit.models.lcdm'].__file__}): give it a name of its own (its `name`, which "
        "config.yaml's models: lists)"
    )
    assert MODELS["lcdm"] is original


def test_params_and_priors_must_agree(scratch_registry):
    with pytest.raises(
        ValueError,
        match=rf"^model '_test_models_broken' \(Broken in {__name__} \(.*\)\): params and default_priors differ in \['b'\]$",
    ):

        class Broken(Model):
            name = "_test_models_broken"
            params = ("a", "b")
            labels = {}
            default_priors = {"a": (0.0, 1.0)}

    assert "_test_models_broken" not in MODELS


# ---------------------------------------------------------------- batches


@pytest.mark.parametrize("name", ["janus", "lcdm", "wcdm"])
def test_batch_equals_singles(name):
    model = get_model(name)
    rng = np.random.default_rng(42)
    lo = np.array([model.default_priors[p][0] for p in model.params])
    hi = np.array([model.default_priors[p][1] for p in model.params])
    if name == "janus":
        lo = np.array([-0.2])  # stay inside the domain up to z = 2.5
    theta = lo + rng.random((64, len(model.params))) * (hi - lo)
    z = Z_TEST
    grid = RedshiftGrid(z)
    mu = model.distance_modulus(theta, z, grid=grid)
    e = model.E(theta, z)
    assert mu.shape == e.shape == (64, z.size)
    for i in range(64):
        np.testing.assert_allclose(mu[i], model.distance_modulus(theta[i], z)[0], rtol=1e-14, atol=0)
        np.testing.assert_allclose(e[i], model.E(theta[i : i + 1], z)[0], rtol=1e-15, atol=0)
    h0 = 60 + 20 * rng.random(64)
    h = model.hubble(theta, z, h0)
    np.testing.assert_allclose(h, h0[:, None] * e, rtol=1e-15)
    dom = model.in_domain(theta, 2.5)
    assert dom.shape == (64,) and np.all(dom)


def test_grid_handles_unsorted_and_repeated_redshifts():
    z = Z_TEST
    g = RedshiftGrid(z)
    # ∫_0^z 1 dz = z and ∫_0^z 3z'^2 dz' = z^3: exact for Gauss–Legendre order 4.
    np.testing.assert_allclose(g.integrate(np.ones_like(g.nodes)), z, rtol=1e-14)
    np.testing.assert_allclose(g.integrate(3 * g.nodes**2), z**3, rtol=1e-13)
    assert g.integrate(np.ones((3, g.nodes.size))).shape == (3, z.size)


@pytest.mark.parametrize("bad", [[], [0.0, 1.0], [-0.1], [np.nan], [[0.1, 0.2]]])
def test_grid_rejects_bad_redshifts(bad):
    with pytest.raises(ValueError):
        RedshiftGrid(np.array(bad, dtype=float))


def test_janus_domain_bounds_are_its_domain():
    model = get_model("janus")
    for z_max in (0.5, 1.3, 2.26226):
        ((name, (lo, hi)),) = model.domain_bounds(z_max).items()
        # Ends at 0: above it the formulas are a Friedmann dust universe, not JANUS (before: hi = inf).
        assert name == "q0" and lo == -1.0 / (2.0 * z_max) and hi == 0.0
        q0 = np.linspace(-0.6, 0.1, 7001)
        away = np.abs(q0 - lo) > 1e-12
        np.testing.assert_array_equal(model.in_domain(q0[away, None], z_max), (q0[away] > lo) & (q0[away] <= 0.0))


class _Bounded(Model):
    """A model declaring its domain only as a box (unregistered: no name)."""

    params = ("a", "b")
    default_priors = {"a": (0.0, 1.0), "b": (0.0, 1.0)}

    def domain_bounds(self, z_max):
        return {"b": (0.25, 1.0 / z_max)}


def test_a_domain_declared_as_a_box_is_the_default_in_domain():
    theta = np.array([[0.5, 0.2], [0.5, 0.3], [0.9, 0.49], [0.9, 0.5], [0.1, 0.7]])
    np.testing.assert_array_equal(_Bounded().in_domain(theta, 2.0), [False, True, True, False, False])
