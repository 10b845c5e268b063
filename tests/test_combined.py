"""Combined datasets: the same data twice is refused, supernovae shared by two compilations are named."""

import numpy as np
import pandas as pd
import pytest

from janusfit.data import Dataset, load_dataset
from janusfit.data.overlap import check_members
from janusfit.errors import ConfigError

PANTHEON = {"kind": "sn", "format": "pantheon_plus", "path": "pantheonplus/Pantheon+SH0ES.dat"}
DESY5 = {"kind": "sn", "format": "desy5", "path": "desy5/DES-SN5YR_HD.csv"}
JLA = {"kind": "sn", "format": "jla_binned", "path": "jla/jla_mub.txt", "cov": "jla/jla_mub_covmatrix.txt"}
CC = {"kind": "hz", "format": "hz_table", "path": "cosmic_chronometers/moresco2016_hz.txt"}


@pytest.mark.filterwarnings("ignore:dataset .* uses the diagonal errors")
def test_pantheon_plus_and_des_sn5yr_share_supernovae_by_name(public_data):
    pantheon = load_dataset("pantheon_plus", PANTHEON, public_data)
    des = load_dataset("desy5", DESY5, public_data)
    # The shared names, read with pandas alone: Pantheon+ after its cut zHD > 0.01.
    p = pd.read_csv(public_data / PANTHEON["path"], sep=r"\s+", dtype={"CID": str})
    d = pd.read_csv(public_data / DESY5["path"], dtype={"CID": str})
    shared = sorted(set(p.CID[p.zHD > 0.01]) & set(d.CID))
    assert len(shared) > 300
    (warning,) = check_members("pp+des", [pantheon, des])
    assert warning.startswith(
        f"datasets 'pantheon_plus' and 'desy5' combined in 'pp+des' share supernovae: "
        f"{len(shared)} by name ({', '.join(shared[:8])}, … ({len(shared) - 8} more))"
    )
    assert "Each is counted twice, with no covariance between its two copies" in warning


def test_rows_shared_by_two_sets_are_named(public_data):
    jla = load_dataset("jla", JLA, public_data)
    part = Dataset("part", "sn", np.append(jla.z[:3], 1.5), np.append(jla.values[:3], 45.0), sigma=np.full(4, 0.1))
    (warning,) = check_members("both", [jla, part])
    assert "3 by identical (z, value) rows (z=0.01, z=0.012, z=0.014)" in warning


def test_the_same_numbers_under_two_names_are_refused(public_data):
    jla = load_dataset("jla", JLA, public_data)
    copy = Dataset("copy", "sn", jla.z.copy(), jla.values.copy(), sigma=np.sqrt(np.diag(jla.cov)))
    with pytest.raises(ConfigError, match=r"datasets\.both\.combine.*'jla' and 'copy' hold the same 31 redshifts"):
        check_members("both", [jla, copy])


@pytest.mark.parametrize("spec", [JLA, CC], ids=["sn", "hz"])
def test_the_same_numbers_in_another_order_are_refused(public_data, spec):
    """A table sorted another way holds the same points: refused as the same order is, for H(z) too."""
    data = load_dataset("one", spec, public_data)
    flipped = Dataset("flipped", data.kind, data.z[::-1].copy(), data.values[::-1].copy(), sigma=np.full(data.n, 0.1))
    with pytest.raises(ConfigError, match=rf"'one' and 'flipped' hold the same {data.n} redshifts and values"):
        check_members("both", [data, flipped])


def test_a_member_whose_every_point_is_in_another_is_refused(public_data):
    """A compilation extended by one point holds every point of the original: both would count them twice."""
    cc = load_dataset("cc", CC, public_data)
    more = Dataset("more", "hz", np.append(cc.z, 2.5), np.append(cc.values, 250.0), sigma=np.full(cc.n + 1, 10.0))
    with pytest.raises(
        ConfigError,
        match=r"datasets\.both\.combine.*every one of the 30 \(z, value\) rows of 'cc' is also in 'more' \(31 rows\)",
    ):
        check_members("both", [more, cc])


def test_h_z_points_shared_by_two_sets_are_named(public_data):
    cc = load_dataset("cc", CC, public_data)
    part = Dataset("part", "hz", np.append(cc.z[:2], 2.5), np.append(cc.values[:2], 250.0), sigma=np.full(3, 10.0))
    (warning,) = check_members("both", [cc, part])
    assert warning.startswith(
        "datasets 'cc' and 'part' combined in 'both' share H(z) measurements: 2 by identical (z, value) rows "
        f"(z={cc.z[0]:g}, z={cc.z[1]:g})"
    )


def test_distinct_sets_pass_silently(public_data):
    jla = load_dataset("jla", JLA, public_data)
    cc = load_dataset(
        "cc", {"kind": "hz", "format": "hz_table", "path": "cosmic_chronometers/moresco2016_hz.txt"}, public_data
    )
    assert check_members("jla+cc", [jla, cc]) == []


LIGHT_CURVES = {"kind": "sn", "format": "jla_lcparams", "path": "jla/jla_lcparams.txt", "pecz": 0}


@pytest.mark.parametrize("model", ["lcdm", "janus"])
def test_a_joint_fit_is_the_sum_of_its_members_light_curves_with_h_z_too(public_data, model):
    """The audit's case: with light curves, α and β follow H0 in the vector, and H(z) read β as H0.

    At (Ωm, H0, α, β) = (0.3, 70, 0.14, 3.1) the joint χ² was 2481.49, the
    H(z) term at H0 = 3.1, where its members' sum is 754.06.
    """
    from janusfit.likelihood import Posterior
    from janusfit.models import get_model

    lc, cc = load_dataset("jla740", LIGHT_CURVES, public_data), load_dataset("cc", CC, public_data)
    joint = Posterior(get_model(model), [lc, cc])
    first = {"lcdm": 0.3, "janus": -0.05}[model]
    assert joint.param_names == (get_model(model).params[0], "H0", "alpha", "beta")
    theta = np.array([[first, 70.0, 0.14, 3.1], [first, 66.0, 0.12, 2.9]])
    alone_lc = Posterior(get_model(model), [lc]).log_likelihood(theta[:, [0, 2, 3]])
    alone_cc = Posterior(get_model(model), [cc]).log_likelihood(theta[:, [0, 1]])
    np.testing.assert_allclose(joint.log_likelihood(theta), alone_lc + alone_cc, rtol=1e-12)
