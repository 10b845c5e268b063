"""janusfit's theories inside Cobaya: Cobaya's own sn.union3 likelihood, run offline, against janusfit's.

Cobaya's supernova likelihood finds its data under ``<packages_path>/data/sn_data``
(a ``version.dat`` naming the data release, then ``Union3/full_long.dataset``
and the files it names); the test lays that out in a temporary directory with
links to the Union3 files in tests/data. Cobaya marginalises the absolute
magnitude with a projected inverse covariance and drops the ln(E/2π) term and
the Gaussian normalisation, which janusfit keeps; both are constants, so the
log-likelihood *differences* over a parameter grid must agree.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("cobaya")

from astropy.cosmology import FlatLambdaCDM  # noqa: E402
from cobaya.likelihood import Likelihood  # noqa: E402
from cobaya.model import get_model as cobaya_model  # noqa: E402

from janusfit.cobaya_theory import C_KM_S  # noqa: E402
from janusfit.data import load_dataset  # noqa: E402
from janusfit.likelihood import Posterior  # noqa: E402
from janusfit.models import get_model  # noqa: E402

UNION3_FILES = ("full_long.dataset", "lcparam_full.txt", "mag_covmat.txt")
H0 = 67.4
Z_PROBE = [0.01, 0.1, 0.5, 1.0, 2.26]


@pytest.fixture(scope="module")
def packages_path(tmp_path_factory, public_data):
    root = tmp_path_factory.mktemp("cobaya_packages")
    sn_data = root / "data" / "sn_data"
    (sn_data / "Union3").mkdir(parents=True)
    (sn_data / "version.dat").write_text("v1.8\n")
    for name in UNION3_FILES:
        (sn_data / "Union3" / name).symlink_to(public_data / "union3" / name)
    return root


@pytest.fixture(scope="module")
def union3(public_data):
    u3 = public_data / "union3"
    return load_dataset(
        "union3",
        {"kind": "sn", "format": "union3", "path": str(u3 / "lcparam_full.txt"), "cov": str(u3 / "mag_covmat.txt")},
    )


def _model(theory, param, packages_path, likelihood="sn.union3"):
    return cobaya_model(
        {
            "theory": {f"janusfit.cobaya_theory.{theory}": None},
            "likelihood": {likelihood: None} if isinstance(likelihood, str) else likelihood,
            "params": {param: {"prior": {"min": -1.0, "max": 1.0}}, "H0": H0},
            "packages_path": str(packages_path),
        }
    )


@pytest.mark.parametrize(
    "theory, model, param, grid",
    [
        ("Janus", "janus", "q0", np.linspace(-0.21, 0.0, 15)),
        ("LCDM", "lcdm", "Om", np.linspace(0.02, 1.0, 15)),
    ],
)
def test_cobaya_union3_log_likelihood_differences_equal_janusfit(packages_path, union3, theory, model, param, grid):
    cobaya = _model(theory, param, packages_path)
    theirs = np.array([cobaya.loglike({param: v}, return_derived=False) for v in grid])
    ours = Posterior(get_model(model), [union3]).log_likelihood(grid[:, None])
    assert np.all(np.isfinite(theirs))
    diff = (theirs - theirs[0]) - (ours - ours[0])
    assert np.max(np.abs(diff)) < 1e-6
    # The differences are real: the grid spans tens of units of ln L.
    assert np.ptp(ours) > 10


def test_cobaya_sees_a_zero_likelihood_outside_the_janus_domain(packages_path):
    """Union3 reaches z = 2.26: JANUS does not exist there for q0 < −1/(2·2.26)."""
    cobaya = _model("Janus", "q0", packages_path)
    assert cobaya.loglike({"q0": -0.25}, return_derived=False) == -np.inf
    assert np.isfinite(cobaya.loglike({"q0": -0.22}, return_derived=False))


class _Background(Likelihood):
    """Requests every product the theories provide, at Z_PROBE, and keeps what it gets."""

    got: dict = {}

    def get_requirements(self):
        return {name: {"z": Z_PROBE} for name in ("angular_diameter_distance", "luminosity_distance", "Hubble")}

    def logp(self, **params):
        p = self.provider
        type(self).got = {
            "d_a": p.get_angular_diameter_distance(Z_PROBE),
            "d_l": p.get_luminosity_distance(Z_PROBE),
            "h": p.get_Hubble(Z_PROBE),
            "h_per_mpc": p.get_Hubble(Z_PROBE, units="1/Mpc"),
            "d_a_other": p.get_angular_diameter_distance(0.3),
        }
        return 0.0


def _mattig(q0, z):
    """d_L in Mpc from Mattig's closed form, or the Milne law z + z²/2 at q0 = 0."""
    if q0 == 0:
        return C_KM_S / H0 * (z + z**2 / 2.0)
    return C_KM_S / H0 * (q0 * z + (1.0 - q0) * (1.0 - np.sqrt(1.0 + 2.0 * q0 * z))) / q0**2


@pytest.mark.parametrize("q0", [-0.2, -0.05, 0.0])
def test_janus_background_is_mattig_and_its_hubble_law(packages_path, q0):
    cobaya = _model("Janus", "q0", packages_path, likelihood={"background": {"external": _Background}})
    cobaya.loglike({"q0": q0}, return_derived=False)
    z = np.array(Z_PROBE)
    got = _Background.got
    np.testing.assert_allclose(got["d_l"], _mattig(q0, z), rtol=1e-9)
    np.testing.assert_allclose(got["d_a"], _mattig(q0, z) / (1.0 + z) ** 2, rtol=1e-9)
    np.testing.assert_allclose(got["h"], H0 * (1.0 + z) * np.sqrt(1.0 + 2.0 * q0 * z), rtol=1e-14)
    np.testing.assert_allclose(got["h_per_mpc"], got["h"] / C_KM_S, rtol=1e-14)
    # A redshift not requested in advance is computed on demand.
    assert got["d_a_other"] == pytest.approx(_mattig(q0, 0.3) / 1.3**2, rel=1e-9)


@pytest.mark.parametrize("om", [0.05, 0.3, 0.9])
def test_lcdm_background_matches_astropy(packages_path, om):
    cobaya = _model("LCDM", "Om", packages_path, likelihood={"background": {"external": _Background}})
    cobaya.loglike({"Om": om}, return_derived=False)
    ref = FlatLambdaCDM(H0=H0, Om0=om, Tcmb0=0)
    got = _Background.got
    np.testing.assert_allclose(got["d_a"], ref.angular_diameter_distance(Z_PROBE).value, rtol=1e-9)
    np.testing.assert_allclose(got["d_l"], ref.luminosity_distance(Z_PROBE).value, rtol=1e-9)
    np.testing.assert_allclose(got["h"], ref.H(Z_PROBE).value, rtol=1e-12)
