"""Bad inputs fail with an error that names the file, where the problem is, and what it is."""

import re
from pathlib import Path

import numpy as np
import pytest

from janusfit.data import load_dataset
from janusfit.data.validate import require_covariance
from janusfit.errors import ConfigError, DataError

GOOD_CSV = "z,mu,sigma\n0.1,38.3,0.1\n0.5,42.3,0.1\n1.0,44.1,0.1\n"


def csv_spec(path, cov=None, **extra):
    spec = {"kind": "sn", "format": "csv", "path": str(path), **extra}
    return {**spec, "cov": str(cov)} if cov else spec


def write_cov(path, matrix, header=None):
    matrix = np.asarray(matrix, dtype=float)
    head = str(matrix.shape[0]) if header is None else header
    path.write_text(head + "\n" + "\n".join(f"{v:.17g}" for v in matrix.ravel()) + "\n")
    return path


def raises_for(path, problem):
    """pytest.raises for a DataError naming ``path`` and matching the regex ``problem``."""
    return pytest.raises(DataError, match=re.escape(str(path)) + ".*" + problem)


def test_missing_file(tmp_path):
    path = tmp_path / "nowhere.csv"
    with raises_for(path, "does not exist"):
        load_dataset("d", csv_spec(path))


UNREADABLE = Path("/proc/sys/vm/compact_memory")  # a file that even root may not read (Linux)


def _unreadable() -> bool:
    try:
        UNREADABLE.open("rb").close()
    except PermissionError:
        return True
    except OSError:
        return False
    return False


@pytest.mark.skipif(not _unreadable(), reason="needs a file that cannot be read, /proc/sys/vm/compact_memory on Linux")
@pytest.mark.parametrize("key", ["path", "cov"])
def test_a_data_file_that_cannot_be_read_is_named(tmp_path, key):
    """The audit's case: a PermissionError traceback while Snakemake planned (the file's checksum), and none of janusfit's words."""
    from janusfit.data.sources import identity

    good = tmp_path / "good.csv"
    good.write_text(GOOD_CSV)
    link = tmp_path / "unreadable.txt"
    link.symlink_to(UNREADABLE)
    spec = csv_spec(good, cov=link) if key == "cov" else csv_spec(link)
    assert "unreadable: Permission denied" in identity({"datasets": {"d": spec}}, ["d"])
    with raises_for(link, r"cannot be read \(Permission denied\); give janusfit read access to it"):
        load_dataset("d", spec)


@pytest.mark.parametrize("text", ["", "z,mu,sigma\n"])
def test_empty_table(tmp_path, text):
    path = tmp_path / "empty.csv"
    path.write_text(text)
    with raises_for(path, "no (data rows|header line)"):
        load_dataset("d", csv_spec(path))


def test_hz_table_with_only_comments(tmp_path):
    path = tmp_path / "hz.txt"
    path.write_text("# z H sigma\n")
    with raises_for(path, "no data rows"):
        load_dataset("d", {"kind": "hz", "format": "hz_table", "path": str(path)})


def test_hz_table_with_wrong_column_count(tmp_path):
    path = tmp_path / "hz.txt"
    path.write_text("0.1 69.0\n0.2 70.0\n")
    with raises_for(path, r"expected 3 columns \(z, H, sigma\), found 2"):
        load_dataset("d", {"kind": "hz", "format": "hz_table", "path": str(path)})


def test_missing_column_lists_the_available_ones(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("z,m,sigma\n0.1,38.3,0.1\n")
    with raises_for(
        path,
        r"missing column 'mu' \(available columns: z, m, sigma; the header is the file's first line, 'z,m,sigma'\)",
    ):
        load_dataset("d", csv_spec(path))


@pytest.mark.parametrize(
    "cell, problem",
    [("nan", "missing or NaN"), ("", "missing or NaN"), ("inf", r"infinite \(inf\)"), ("-inf", "infinite")],
)
def test_non_finite_value_names_row_and_column(tmp_path, cell, problem):
    path = tmp_path / "d.csv"
    path.write_text(f"z,mu,sigma\n0.1,38.3,0.1\n0.5,{cell},0.1\n")
    with raises_for(path, f"data row 2, column 'mu': value is {problem}"):
        load_dataset("d", csv_spec(path))


def test_non_numeric_value(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("z,mu,sigma\n0.1,38.3,0.1\n0.5,42.3,0.1q\n")
    with raises_for(path, "data row 2, column 'sigma': '0.1q' is not a number"):
        load_dataset("d", csv_spec(path))


@pytest.mark.parametrize("z", ["0", "-0.02"])
def test_non_positive_redshift(tmp_path, z):
    path = tmp_path / "d.csv"
    path.write_text(f"z,mu,sigma\n0.1,38.3,0.1\n0.2,39.9,0.1\n{z},30.0,0.1\n")
    with raises_for(path, f"data row 3, column 'z': redshift must be > 0, got {z}"):
        load_dataset("d", csv_spec(path))


def test_non_positive_error(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("z,mu,sigma\n0.1,38.3,0.0\n")
    with raises_for(path, "data row 1, column 'sigma': error must be > 0, got 0"):
        load_dataset("d", csv_spec(path))


def test_byte_order_mark_of_an_excel_csv_is_dropped(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD_CSV.encode())
    d = load_dataset("d", csv_spec(path))
    assert list(d.z) == [0.1, 0.5, 1.0] and list(d.values) == [38.3, 42.3, 44.1]


@pytest.mark.parametrize("ending", ["\r\n", "\r"], ids=["windows", "classic-mac"])
def test_any_line_ending_reads_the_same_numbers(tmp_path, ending):
    """A bare carriage return (classic Mac OS) read the whole table as its header: 'no data rows' (audit)."""
    path = tmp_path / "d.csv"
    path.write_bytes(GOOD_CSV.replace("\n", ending).encode())
    d = load_dataset("d", csv_spec(path))
    assert list(d.z) == [0.1, 0.5, 1.0] and list(d.values) == [38.3, 42.3, 44.1]
    hz = tmp_path / "hz.txt"
    hz.write_bytes(ending.join(["# z H sigma", "0.1 69 12", "0.4 83 10", ""]).encode())
    assert list(load_dataset("cc", {"kind": "hz", "format": "hz_table", "path": str(hz)}).values) == [69.0, 83.0]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be"])
def test_a_utf16_file_is_named_as_utf16(tmp_path, encoding):
    """Excel's 'Unicode text' is UTF-16: it was called 'probably Latin-1 or Windows-1252' (audit)."""
    path = tmp_path / "d.csv"
    text = GOOD_CSV.encode(encoding)
    path.write_bytes(text if text[:2] in (b"\xff\xfe", b"\xfe\xff") else b"\xfe\xff" + text)
    with raises_for(path, r"is UTF-16 text \(byte-order mark 0x(ff 0xfe|fe 0xff)\); save it as UTF-8"):
        load_dataset("d", csv_spec(path))


def test_duplicated_header_column_is_named(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("z,z,mu,sigma\n0.1,0.1,38.3,0.1\n0.5,0.5,42.3,0.1\n")
    with raises_for(path, r"header names column 'z' twice \(columns 1 and 2\); rename or remove one"):
        load_dataset("d", csv_spec(path))


def test_a_byte_that_is_not_utf8_names_its_line(tmp_path):
    """One Latin-1 'é' in a column the fit does not even read."""
    path = tmp_path / "d.csv"
    path.write_bytes(b"z,mu,sigma,host\n0.1,38.3,0.1,NGC 1\n0.5,42.3,0.1,Caf\xe9\n")
    with raises_for(
        path,
        r"line 3, character 17: byte 0xe9 is not UTF-8 text \(the file was probably saved as "
        r"Latin-1 or Windows-1252\); save it as UTF-8",
    ):
        load_dataset("d", csv_spec(path))


@pytest.mark.parametrize("zhel", ["-1", "-0.5", "0.4"])
def test_heliocentric_redshift_far_from_the_redshift_is_refused(tmp_path, zhel):
    path = tmp_path / "d.csv"
    path.write_text(f"z,zhel,mu,sigma\n0.1,0.1003,38.3,0.1\n0.5,{zhel},42.3,0.1\n")
    with raises_for(
        path,
        rf"data row 2, column 'zhel': heliocentric redshift {zhel} differs from the redshift 0.5 "
        r"by more than 0.01 \(1 \+ z\)",
    ):
        load_dataset("d", csv_spec(path))


def test_error_too_small_to_be_a_measurement_is_refused(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("z,mu,sigma\n0.1,38.3,0.1\n0.5,42.3,1e-300\n")
    with raises_for(path, "data row 2, column 'sigma': error 1e-300 is below 1e-06; no measurement is that precise"):
        load_dataset("d", csv_spec(path))


def test_redshift_beyond_any_measurement_is_refused(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("z,mu,sigma\n0.1,38.3,0.1\n1e6,42.3,0.1\n")
    with raises_for(path, r"data row 2, column 'z': redshift must be ≤ 10, got 1e\+06"):
        load_dataset("d", csv_spec(path))


def test_negative_hubble_rate_is_refused(tmp_path):
    path = tmp_path / "hz.txt"
    path.write_text("0.1 69.0 12.0\n0.4 -83.0 10.0\n")
    with raises_for(path, "data row 2, column 'H': H\\(z\\) must be > 0, got -83"):
        load_dataset("d", {"kind": "hz", "format": "hz_table", "path": str(path)})


@pytest.mark.parametrize(
    "name, text, spec, shown",
    [
        ("d.csv", GOOD_CSV + "0.5,42.3,0.1\n", {"kind": "sn", "format": "csv"}, "z 0.5, value 42.3, error 0.1"),
        (
            "hz.txt",
            "0.1 69 12\n0.4 83 10\n0.1 69 12\n",
            {"kind": "hz", "format": "hz_table"},
            "z 0.1, value 69, error 12",
        ),
    ],
    ids=["csv", "hz_table"],
)
def test_a_row_repeated_with_diagonal_errors_is_refused(tmp_path, name, text, spec, shown):
    """The same point twice would weigh twice: rows equal in every column read are named."""
    path = tmp_path / name
    path.write_text(text)
    first, second = (2, 4) if spec["format"] == "csv" else (1, 3)
    with raises_for(path, rf"data rows {first} and {second} are the same point \({shown}\): with diagonal errors"):
        load_dataset("d", {**spec, "path": str(path)})


def test_the_same_supernova_from_two_surveys_is_two_rows(public_data):
    """Pantheon+ holds 2009cz twice (surveys 56 and 5), the same z and m_b_corr with different errors: not a repeat."""
    with pytest.warns(UserWarning, match="diagonal errors"):
        d = load_dataset(
            "pp", {"kind": "sn", "format": "pantheon_plus", "path": "pantheonplus/Pantheon+SH0ES.dat"}, public_data
        )
    assert list(d.names).count("2009cz") == 2


def test_a_pantheon_plus_table_with_no_row_past_its_cut_is_refused(tmp_path, public_data):
    """Rows of the release all at zHD ≤ 0.01 (its calibrators): the cut leaves nothing, which is named."""
    lines = (public_data / "pantheonplus/Pantheon+SH0ES.dat").read_text().splitlines()
    header = lines[0].split()
    low = [line for line in lines[1:] if float(line.split()[header.index("zHD")]) <= 0.01]
    path = tmp_path / "low.dat"
    path.write_text("\n".join([lines[0], *low[:5]]) + "\n")
    with raises_for(path, r"no data row has zHD > 0\.01, the SN-only cut of Pantheon\+ .*nothing is left to fit"):
        load_dataset("pp", {"kind": "sn", "format": "pantheon_plus", "path": str(path)})


def test_rows_longer_than_the_header(tmp_path):
    path = tmp_path / "lc.txt"
    path.write_text("#name zcmb zhel mb\nbin00 0.05 0.05 36.6 0.0\n")
    with raises_for(path, "rows have 5 values but the header names only 4 columns"):
        load_dataset("d", {"kind": "sn", "format": "union3", "path": str(path), "cov": "unused"})


def test_a_comment_above_the_header_is_shown_as_the_line_read_for_it(tmp_path):
    """The audit's case: the message counted columns and did not say which line it took for the header."""
    path = tmp_path / "d.csv"
    path.write_text("# my survey\n" + GOOD_CSV)
    shown = "missing column 'z' (available columns: my; the header is the file's first line, '# my survey')"
    with raises_for(path, re.escape(shown)):
        load_dataset("d", csv_spec(path))
    path.write_text("# z mu\n" + GOOD_CSV.replace(",", " "))
    shown = "rows have 3 values but the header names only 2 columns (the header is the file's first line, '# z mu')"
    with raises_for(path, re.escape(shown)):
        load_dataset("d", csv_spec(path))


@pytest.mark.parametrize(
    "header, n_values, problem",
    [
        ("3", 8, r"declares N=3, so needs N\*N=9 values, but has 8"),
        ("COV", 8, r"not square: 8 values is not N\*N for any N"),
        ("3.5", 9, "first value '3.5' should be the matrix size N"),
    ],
)
def test_covariance_value_count(tmp_path, header, n_values, problem):
    data = tmp_path / "d.csv"
    data.write_text(GOOD_CSV)
    cov = tmp_path / "c.txt"
    cov.write_text(header + "\n" + "\n".join(["0.01"] * n_values) + "\n")
    with raises_for(cov, problem):
        load_dataset("d", csv_spec(data, cov))


def test_empty_covariance_file(tmp_path):
    data = tmp_path / "d.csv"
    data.write_text(GOOD_CSV)
    cov = tmp_path / "c.txt"
    cov.write_text("")
    with raises_for(cov, "covariance file is empty"):
        load_dataset("d", csv_spec(data, cov))


def test_covariance_not_a_number(tmp_path):
    data = tmp_path / "d.csv"
    data.write_text(GOOD_CSV)
    cov = tmp_path / "c.txt"
    cov.write_text("2\n0.01\n0\nx\n0.01\n")
    with raises_for(cov, "covariance value 3 .*'x' is not a number"):
        load_dataset("d", csv_spec(data, cov))


def test_covariance_size_differs_from_data(tmp_path):
    data = tmp_path / "d.csv"
    data.write_text(GOOD_CSV)
    cov = write_cov(tmp_path / "c.txt", 0.01 * np.eye(2))
    with raises_for(cov, "covariance is 2x2 but the data file has 3 rows"):
        load_dataset("d", csv_spec(data, cov))


def test_covariance_not_symmetric_names_worst_element(tmp_path):
    data = tmp_path / "d.csv"
    data.write_text(GOOD_CSV)
    matrix = 0.01 * np.eye(3)
    matrix[0, 2] = 0.002
    matrix[1, 0] = 1e-4
    cov = write_cov(tmp_path / "c.txt", matrix)
    with raises_for(cov, r"not symmetric: worst at \[(1, 3|3, 1)\].*asymmetry 0\.002"):
        load_dataset("d", csv_spec(data, cov))


def test_covariance_not_positive_definite(tmp_path):
    data = tmp_path / "d.csv"
    data.write_text(GOOD_CSV)
    matrix = np.full((3, 3), 0.01) + np.diag([0.0, 0.0, -0.001])
    cov = write_cov(tmp_path / "c.txt", matrix)
    with raises_for(cov, r"not positive definite \(smallest eigenvalue -"):
        load_dataset("d", csv_spec(data, cov))


def test_covariance_with_nan(tmp_path):
    data = tmp_path / "d.csv"
    data.write_text(GOOD_CSV)
    matrix = 0.01 * np.eye(3)
    matrix[1, 2] = np.nan
    cov = write_cov(tmp_path / "c.txt", matrix)
    with raises_for(cov, r"covariance element \[2, 3\] \(1-based\) is nan"):
        load_dataset("d", csv_spec(data, cov))


def test_missing_covariance_file_is_named(tmp_path):
    data = tmp_path / "d.csv"
    data.write_text(GOOD_CSV)
    cov = tmp_path / "absent.cov"
    with raises_for(cov, "does not exist"):
        load_dataset("d", csv_spec(data, cov))


def test_covariance_makes_sigma_optional_and_last_digit_asymmetry_is_tolerated(tmp_path):
    data = tmp_path / "d.csv"
    data.write_text("z,mu\n0.1,38.3\n0.5,42.3\n1.0,44.1\n")
    matrix = np.array([[0.02, 0.005, 0.001], [0.005, 0.02, 0.004], [0.001, 0.004, 0.03]])
    matrix[0, 1] += 1e-17  # as decimal files written by the releases differ
    d = load_dataset("d", csv_spec(data, write_cov(tmp_path / "c.txt", matrix)))
    assert d.sigma is None
    np.testing.assert_array_equal(d.cov, d.cov.T)
    np.testing.assert_allclose(d.cov, matrix, rtol=1e-12)


def diagonal_covariance(tmp_path, fmt, csv, csv_diagonal, hz_diagonal) -> dict:
    """A three-row ``csv`` (the text given) or ``hz_table`` (σ = 12, 10, 15) with a diagonal covariance file c.txt."""
    if fmt == "csv":
        data = tmp_path / "d.csv"
        data.write_text(csv)
        return csv_spec(data, write_cov(tmp_path / "c.txt", np.diag(csv_diagonal)))
    data = tmp_path / "hz.txt"
    data.write_text("0.1 69 12\n0.4 83 10\n0.9 110 15\n")
    return {
        "kind": "hz",
        "format": "hz_table",
        "path": str(data),
        "cov": str(write_cov(tmp_path / "c.txt", np.diag(hz_diagonal))),
    }


@pytest.mark.parametrize("fmt", ["csv", "hz_table"])
def test_a_covariance_below_the_tables_errors_is_named(tmp_path, fmt):
    """A covariance of systematic errors alone, with the statistical ones in the table: they would be dropped."""
    spec = diagonal_covariance(tmp_path, fmt, GOOD_CSV, [0.0025, 0.0081, 0.0004], [100.0, 30.0, 230.0])
    shown = "data row 1: 0.0025 against 0.01" if fmt == "csv" else "data row 1: 100 against 144"
    with pytest.warns(
        UserWarning,
        match=rf"covariance '.*c\.txt' has a diagonal below the square of the table's errors .* at 2 of 3 rows \({shown}\)",
    ):
        load_dataset("d", spec)


def test_a_covariance_holding_the_tables_errors_is_taken_silently(tmp_path, recwarn):
    """Errors written to two digits against the covariance's own diagonal: the covariance holds them."""
    data = tmp_path / "d.csv"
    data.write_text("z,mu,sigma\n0.1,38.3,0.13\n0.5,42.3,0.1\n1.0,44.1,0.1\n")
    load_dataset("d", csv_spec(data, write_cov(tmp_path / "c.txt", np.diag([0.1251**2, 0.012, 0.0101]))))
    assert not [w for w in recwarn if "covariance" in str(w.message)]


@pytest.mark.parametrize("fmt", ["csv", "hz_table"])
def test_a_covariance_holding_errors_where_it_needs_variances_is_refused(tmp_path, fmt):
    """The audit's case: diag(σ) written for diag(σ²). It passed every check and made each error √σ."""
    csv = "z,mu,sigma\n0.1,38.3,0.15\n0.5,42.3,0.12\n1.0,44.1,0.2\n"
    spec = diagonal_covariance(tmp_path, fmt, csv, [0.15, 0.12, 0.2], [12.0, 10.0, 15.0])
    shown = (
        "data row 1: 0.15 against σ = 0.15, σ² = 0.0225" if fmt == "csv" else "data row 1: 12 against σ = 12, σ² = 144"
    )
    with raises_for(
        tmp_path / "c.txt",
        rf"diagonal is the table's errors \(role 'sigma'\), not their squares, at all 3 rows \({shown}\)",
    ):
        load_dataset("d", spec)


def test_non_square_array():
    with pytest.raises(DataError, match=r"'c\.txt'.*covariance is not square: shape \(2, 3\)"):
        require_covariance("c.txt", np.zeros((2, 3)), 2)


def test_kind_mismatch_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"datasets\.cc\.kind.*format 'hz_table' holds 'hz' data, not 'sn'"):
        load_dataset("cc", {"kind": "sn", "format": "hz_table", "path": str(tmp_path / "x")})


@pytest.mark.parametrize("cov", [False, True])
def test_an_empty_cell_of_a_tab_separated_table_is_refused_naming_its_row(tmp_path, cov):
    """The audit's case: one empty mu cell between two tabs. Split at whitespace it was no cell, σ moved into mu
    and the row was padded: with a covariance (σ not read) the fit took mu = 0.149, the row's error."""
    rows = [(0.01 + 0.01 * i, 33.0 + i, 0.15) for i in range(6)]
    lines = ["z\tmu\tsigma"] + [f"{z}\t{mu}\t{s}" for z, mu, s in rows]
    lines[5] = f"{rows[4][0]}\t\t{rows[4][2]}"
    path = tmp_path / "d.tsv"
    path.write_text("\n".join(lines) + "\n")
    spec = {"kind": "sn", "format": "csv", "path": str(path)}
    if cov:
        (tmp_path / "d.cov").write_text(
            "6\n" + "\n".join(str(0.0225 if i == j else 0.0) for i in range(6) for j in range(6))
        )
        spec["cov"] = str(tmp_path / "d.cov")
    with raises_for(path, "data row 5 has 2 values where the first has 3: .* write NaN"):
        load_dataset("d", spec)


@pytest.mark.parametrize("kind", ["sn", "hz"])
def test_points_at_one_redshift_count_once_for_the_fit(tmp_path, kind):
    """The audit's case: twenty supernovae at z = 0.5. The log-likelihood was one constant at every Ωm and
    q0 (the offset takes the one point), and the run reported its prior, converged, as the posterior."""
    from schema_defaults import with_defaults

    from janusfit.run import load_run

    value = 42.0 if kind == "sn" else 90.0
    rows = [f"0.5,{value + 0.01 * i},0.1" for i in range(20)]
    data = tmp_path / "d.csv"
    data.write_text("z,mu,sigma\n" + "\n".join(rows) + "\n" if kind == "sn" else "z,H,sigma\n" + "\n".join(rows) + "\n")
    config = with_defaults({"datasets": {"d": csv_spec(data, kind=kind)}, "models": ["lcdm"]})
    if kind == "sn":
        message = "run d/lcdm has 20 data points at 1 distinct redshift (points at one redshift have one model value), too few for its 1 free parameter and 1 marginalised supernova offset: it needs at least 3"
    else:
        message = "run d/lcdm has 20 data points at 1 distinct redshift (points at one redshift have one model value), too few for its 2 free parameters and 0 marginalised supernova offsets: it needs at least 3"
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_run(config, "d", "lcdm")
    # A second redshift: enough for H(z)'s two parameters only with a third.
    data.write_text(data.read_text() + ("0.9,43.1,0.1\n0.2,39.5,0.1\n" if kind == "sn" else "0.9,110,10\n0.2,75,8\n"))
    assert load_run(config, "d", "lcdm")[1].n_data == 22
