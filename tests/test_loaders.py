"""The loaders on the real public releases in tests/data (read in place)."""

import re

import numpy as np
import pytest

from janusfit.data import Dataset, load_dataset
from janusfit.errors import ConfigError
from janusfit.likelihood import Posterior
from janusfit.models import get_model

UNION3 = {"kind": "sn", "format": "union3", "path": "union3/lcparam_full.txt", "cov": "union3/mag_covmat.txt"}
JLA = {"kind": "sn", "format": "jla_binned", "path": "jla/jla_mub.txt", "cov": "jla/jla_mub_covmatrix.txt"}
PANTHEON = {"kind": "sn", "format": "pantheon_plus", "path": "pantheonplus/Pantheon+SH0ES.dat"}
DESY5 = {"kind": "sn", "format": "desy5", "path": "desy5/DES-SN5YR_HD.csv"}
CC = {"kind": "hz", "format": "hz_table", "path": "cosmic_chronometers/moresco2016_hz.txt"}


def manifest_sha256(public_data, relpath: str) -> str:
    """The sha256 MANIFEST.md lists for ``relpath`` (the last column of its row)."""
    for line in (public_data / "MANIFEST.md").read_text().splitlines():
        if line.startswith(f"| {relpath} |"):
            return line.strip(" |").split("|")[-1].strip()
    raise AssertionError(f"{relpath} is not in MANIFEST.md")


def test_union3(public_data):
    d = load_dataset("union3", UNION3, public_data)
    assert isinstance(d, Dataset) and d.kind == "sn"
    assert d.n == 22 and d.cov.shape == (22, 22) and d.sigma is None
    assert d.z[0] == 0.05 and d.values[0] == 36.630361
    assert d.z[-1] == 2.262260 and d.values[-1] == 45.997159
    assert d.zhel is not None and np.array_equal(d.zhel, d.z)
    assert d.cov[0, 0] == pytest.approx(0.0086044441289678, rel=1e-14)
    assert d.cov[0, 1] == pytest.approx(0.0078396482652654, rel=1e-14)
    np.testing.assert_array_equal(d.cov, d.cov.T)


def test_sha256_are_the_manifest_ones(public_data):
    d = load_dataset("union3", UNION3, public_data)
    for key, rel in (("path", "union3/lcparam_full.txt"), ("cov", "union3/mag_covmat.txt")):
        assert d.files[key] == str(public_data / rel)
        assert d.sha256[key] == manifest_sha256(public_data, rel)


def test_jla_binned(public_data):
    d = load_dataset("jla", JLA, public_data)
    assert d.n == 31 and d.cov.shape == (31, 31) and d.zhel is None
    assert d.z[0] == 0.010 and d.values[0] == 32.953886976
    assert d.z[-1] == 1.300 and d.values[-1] == 44.8218674621
    assert d.cov[0, 0] == 0.021282623508 and d.cov[0, 1] == pytest.approx(-0.0108409870424, rel=1e-14)


def test_jla_original_release_layout(public_data, tmp_path):
    """The original release: a '# z mu' header with spaces, and N (not 'COV') first in the covariance."""
    rows = (public_data / "jla/jla_mub.txt").read_text().splitlines()[1:]
    (tmp_path / "mub.txt").write_text("# z mu\n" + "\n".join(r.replace(",", " ") for r in rows) + "\n")
    cov_lines = (public_data / "jla/jla_mub_covmatrix.txt").read_text().splitlines()
    (tmp_path / "cov.txt").write_text("\n".join(["31"] + cov_lines[1:]) + "\n")
    original = load_dataset("jla", {**JLA, "path": "mub.txt", "cov": "cov.txt"}, tmp_path)
    copy = load_dataset("jla", JLA, public_data)
    np.testing.assert_array_equal(original.z, copy.z)
    np.testing.assert_array_equal(original.values, copy.values)
    np.testing.assert_array_equal(original.cov, copy.cov)


def test_pantheon_plus_cut_and_diagonal_warning(public_data):
    with pytest.warns(UserWarning, match="DO NOT FIT COSMOLOGICAL PARAMETERS"):
        d = load_dataset("pp", PANTHEON, public_data)
    assert d.n == 1590 and d.cov is None and d.sigma.shape == (1590,)
    assert d.z.min() > 0.01
    assert (d.z[0], d.zhel[0], d.values[0], d.sigma[0]) == (0.01016, 0.00936, 13.5264, 0.3475)
    assert (d.z[-1], d.values[-1]) == (2.26137, 26.9298)


def test_pantheon_plus_covariance_is_cut_on_both_axes(public_data, tmp_path):
    """A release-layout covariance over every row of the file loses the rows and columns cut away."""
    lines = (public_data / "pantheonplus/Pantheon+SH0ES.dat").read_text().splitlines()
    rows = lines[101:131]  # data rows 101..130 straddle the zHD = 0.01 cut
    (tmp_path / "pp.dat").write_text("\n".join([lines[0]] + rows) + "\n")
    n = len(rows)
    cov = np.diag(np.arange(1.0, n + 1)) + 0.01 * np.add.outer(np.arange(n), np.arange(n))
    (tmp_path / "pp.cov").write_text(f"{n}\n" + "\n".join(f"{v:.17g}" for v in cov.ravel()) + "\n")
    z_file = np.array([float(r.split()[2]) for r in rows])
    keep = z_file > 0.01
    assert 0 < keep.sum() < n
    d = load_dataset("pp", {**PANTHEON, "path": "pp.dat", "cov": "pp.cov"}, tmp_path)
    assert d.sigma is None and d.n == keep.sum()
    np.testing.assert_array_equal(d.z, z_file[keep])
    np.testing.assert_array_equal(d.cov, cov[np.ix_(keep, keep)])


def test_desy5(public_data):
    with pytest.warns(UserWarning, match="MUERR_FINAL"):
        d = load_dataset("des", DESY5, public_data)
    assert d.n == 1829 and d.sigma.shape == (1829,) and d.cov is None
    assert (d.z[0], d.zhel[0], d.values[0], d.sigma[0]) == (0.24605, 0.24651, 40.5938, 0.0968)
    assert (d.z[-1], d.values[-1], d.sigma[-1]) == (0.09293, 38.3430, 0.2873)


def test_cosmic_chronometers(public_data):
    d = load_dataset("cc", CC, public_data)
    assert d.kind == "hz" and d.n == 30 and d.cov is None and d.zhel is None
    assert (d.z[0], d.values[0], d.sigma[0]) == (0.070, 69.0, 19.6)
    assert (d.z[-1], d.values[-1], d.sigma[-1]) == (1.965, 186.5, 50.4)


@pytest.mark.filterwarnings("ignore:.*MUERR_FINAL")
def test_csv_with_named_columns_reads_the_same_numbers_as_desy5(public_data):
    columns = {"z": "zHD", "mu": "MU", "sigma": "MUERR_FINAL", "zhel": "zHEL"}
    generic = load_dataset("des", {**DESY5, "format": "csv", "columns": columns}, public_data)
    native = load_dataset("des", DESY5, public_data)
    for field in ("z", "zhel", "values", "sigma"):
        np.testing.assert_array_equal(getattr(generic, field), getattr(native, field))


def test_csv_hz_with_default_column_names(tmp_path):
    (tmp_path / "hz.csv").write_text("z,H,sigma\n0.1,69.0,12.0\n0.4,83.0,10.0\n")
    d = load_dataset("hz", {"kind": "hz", "format": "csv", "path": "hz.csv"}, tmp_path)
    assert d.kind == "hz" and list(d.values) == [69.0, 83.0] and list(d.sigma) == [12.0, 10.0]


def test_absolute_paths_ignore_base_dir(public_data, tmp_path):
    absolute = {**CC, "path": str(public_data / CC["path"])}
    d = load_dataset("cc", absolute, tmp_path)
    assert d.files == {"path": str(public_data / CC["path"])}


def test_unknown_format_lists_the_known_ones(public_data):
    with pytest.raises(ConfigError, match=r"datasets\.x\.format.*'fits'.*known formats:.*union3.*hz_table"):
        load_dataset("x", {**CC, "format": "fits"}, public_data)


@pytest.mark.parametrize(
    "spec, key",
    [
        ({k: v for k, v in UNION3.items() if k != "cov"}, "datasets.d.cov"),
        ({**UNION3, "columns": {"mu": "dmb"}}, "datasets.d.columns"),
        ({**DESY5, "format": "csv", "columns": {"H": "MU"}}, "datasets.d.columns"),
        ({k: v for k, v in CC.items() if k != "path"}, "datasets.d.path"),
        ({**CC, "kind": "sn"}, "datasets.d.kind"),
        ({**UNION3, "kind": "hz"}, "datasets.d.kind"),
    ],
)
def test_config_mistakes_name_the_key(public_data, spec, key):
    with pytest.raises(ConfigError, match=re.escape(f"'{key}'")):
        load_dataset("d", spec, public_data)


@pytest.mark.parametrize(
    "columns, column, roles",
    [({"sigma": "z"}, "z", "z and sigma"), ({"z": "zHD", "mu": "MU", "sigma": "MU"}, "MU", "mu and sigma")],
)
def test_a_column_given_two_roles_is_refused(public_data, columns, column, roles):
    """columns: {sigma: z} read the redshifts as their own errors, with no word (audit)."""
    with pytest.raises(ConfigError) as raised:
        load_dataset("d", {**DESY5, "format": "csv", "columns": columns}, public_data)
    assert str(raised.value) == (
        f"config key 'datasets.d.columns': column '{column}' is given two roles, {roles}; each role needs its own"
    )


def test_union3_gives_its_published_matter_density(public_data):
    """End to end on real data: flat ΛCDM on Union3 peaks near Rubin et al.'s Ωm = 0.356 ± 0.026."""
    posterior = Posterior(get_model("lcdm"), [load_dataset("union3", UNION3, public_data)])
    om = np.linspace(0.1, 0.7, 601)
    best = om[np.argmin(posterior.chi2(om[:, None]))]
    assert abs(best - 0.356) < 0.03


# Every release table, and how its format splits it: the header line names the columns, or (H(z)) none does.
RELEASE_TABLES = {
    "union3/lcparam_full.txt": "header",
    "jla/jla_mub.txt": "header",
    "jla/jla_lcparams.txt": "header",
    "pantheonplus/Pantheon+SH0ES.dat": "header",
    "desy5/DES-SN5YR_HD.csv": "header",
    "cosmic_chronometers/moresco2016_hz.txt": "comments",
}


def pandas_columns(path, layout) -> dict:
    """The columns as the loaders read them with pandas before janusfit.data.table: numbers and strings."""
    import io

    import pandas as pd

    from janusfit.data.validate import utf8_text

    text = utf8_text(path)
    if layout == "comments":
        frame = pd.read_csv(io.StringIO(text), sep=r"\s+", header=None, comment="#", dtype=str)
    else:
        header = text.partition("\n")[0]
        comma = "," in header
        frame = pd.read_csv(io.StringIO(text), sep="," if comma else r"\s+", header=None, skiprows=1, dtype=str)
    return {
        c: (pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype=float), frame[c].to_numpy(dtype=str))
        for c in frame.columns
    }


@pytest.mark.parametrize("release", ["tests", "shared"])
@pytest.mark.parametrize("relpath", sorted(RELEASE_TABLES))
def test_tables_read_to_the_same_bits_as_pandas_read_them(release, relpath, request):
    """So every dataset's arrays, and with them its fingerprint, checkpoints and results, are unchanged."""
    from janusfit.data.table import NotANumber, parse, to_floats
    from janusfit.data.validate import utf8_text

    root = request.getfixturevalue("public_data" if release == "tests" else "shared_data")
    path = root / relpath
    text = utf8_text(path)
    layout = RELEASE_TABLES[relpath]
    if layout == "comments":
        table = parse(text, comma=False, comment="#")
    else:
        table = parse(text, comma="," in text.partition("\n")[0], skip_rows=1)
    expected = pandas_columns(path, layout)
    assert table.shape == (len(expected[0][0]), len(expected))
    for column, (numbers, strings) in expected.items():
        np.testing.assert_array_equal(table.strings(column), strings)
        try:
            got = to_floats(table[column])
        except NotANumber as exc:  # a text column (names): pandas finds its first text in the same row
            first = np.flatnonzero(np.isnan(numbers) & (strings != "nan"))[0]
            assert exc.index == first, f"{relpath} column {column}"
            continue
        # Bit for bit, NaN included: the same 8 bytes per value.
        assert got.tobytes() == numbers.tobytes(), f"{relpath} column {column}"


@pytest.mark.parametrize("model", ["lcdm", "janus", "wcdm"])
@pytest.mark.parametrize("dataset", ["union3", "cc", "union3+cc", "jla740"])
def test_the_config_names_and_labels_a_runs_parameters_as_its_posterior_does(public_data, dataset, model):
    """The convergence and corner jobs label their plots from the config, without reading data or the likelihood."""
    from janusfit.config import param_labels, param_names

    jla740 = {"kind": "sn", "format": "jla_lcparams", "path": "jla/jla_lcparams.txt", "pecz": 0}
    config = {"datasets": {"union3": UNION3, "cc": CC, "jla740": jla740, "union3+cc": {"combine": ["union3", "cc"]}}}
    members = config["datasets"][dataset].get("combine", [dataset])
    posterior = Posterior(get_model(model), [load_dataset(m, config["datasets"][m], public_data) for m in members])
    assert param_names(config, dataset, model) == list(posterior.param_names)
    assert param_labels(config, dataset, model) == {p: posterior.labels[p] for p in posterior.param_names}
