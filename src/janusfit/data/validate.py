"""Checks that the numbers read from a data file are usable.

Each check raises :class:`DataError` with a message that names the file, where
the problem is (1-based data row and column, or covariance element) and what it
is, so that a failed Snakemake job says exactly which byte of which input to fix.
Data rows are counted from 1 after the header and any comment lines. A
configuration that asks a format for the wrong kind of data raises
:class:`ConfigError` instead, since the fix is in the config, not in the file.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataError
from .table import NotANumber, Table, to_floats

# Releases write symmetric matrices in decimal, so their transposes differ in
# the last digit (Union3 and JLA: ~1e-16; Pantheon+: up to 3e-8, which on
# its smallest variances, 0.012, is 2.4e-6 of sqrt(C_ii C_jj)). An asymmetry is measured against
# sqrt(C_ii C_jj), the scale of the correlation it changes; a real one (a
# transposed block, columns out of order) is of order 0.1 or more.
SYMMETRY_RTOL = 1e-4
# No supernova or H(z) measurement lies beyond z = 10 (the farthest SN Ia are
# at z ≈ 3); a larger value is a wrong column or unit, and would only show up
# as a chain that never converges.
Z_MAX = 10.0
# The heliocentric redshift differs from the CMB-frame (or Hubble-diagram) one
# by the Sun's motion (370 km/s, Δz ≤ 0.0013 (1 + z)) and the host's peculiar
# velocity: Pantheon+ and DES-SN5YR differ by at most 0.0024 (1 + z).
ZHEL_TOLERANCE = 0.01
# No distance modulus or H(z) is known to 1e-6 (mag, km/s/Mpc); a smaller error
# is a wrong column or unit, and its inverse square overflows the likelihood
# (σ = 1e-300 made the log-likelihood NaN, blamed on the model).
SIGMA_MIN = 1e-6
# A covariance replaces a table's error column, so one of systematic errors
# alone drops the statistical ones: its diagonal then falls below the
# column's σ². Errors written to two digits differ from the truth by up to
# 4 % (8 % in σ²), which stays above this.
BELOW_TABLE_ERRORS = 0.8


def require_kind(name: str, fmt: str, kind, kinds: tuple[str, ...]) -> None:
    """The configured ``kind`` is one the format can hold."""
    if kind not in kinds:
        raise ConfigError(
            f"datasets.{name}.kind",
            f"format '{fmt}' holds {' or '.join(repr(k) for k in kinds)} data, not {kind!r}",
        )


def require_file(path: Path) -> None:
    if not path.is_file():
        raise DataError(path, "file does not exist" if not path.exists() else "is not a regular file")
    try:
        path.open("rb").close()
    except OSError as exc:
        raise DataError(path, f"cannot be read ({exc.strerror}); give janusfit read access to it") from None


GZIP_MAGIC = b"\x1f\x8b"


def file_bytes(path: Path) -> bytes:
    """The file's bytes, decompressed when it is gzip (known by its first two bytes, whatever its name)."""
    data = path.read_bytes()
    if data[:2] != GZIP_MAGIC:
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(
            path,
            f"is gzip-compressed but does not decompress ({exc}); the file is damaged or cut "
            "short: download or copy it again",
        ) from None


UTF16_MARKS = (b"\xff\xfe", b"\xfe\xff")  # the byte-order marks Excel and Windows tools write UTF-16 with


def utf8_text(path: Path) -> str:
    """The file's text (gunzipped if need be), decoded as UTF-8, with ``\n`` line endings.

    A leading byte-order mark (Excel's CSV) is dropped; Windows' ``\r\n`` and
    classic Mac OS's bare ``\r`` end lines as ``\n`` does (a bare ``\r`` read
    the whole table as its header line).
    """
    data = file_bytes(path)
    if data[:2] in UTF16_MARKS:
        raise DataError(path, f"is UTF-16 text (byte-order mark 0x{data[0]:02x} 0x{data[1]:02x}); save it as UTF-8")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise DataError(
            path,
            f"line {line}, character {column}: byte 0x{data[exc.start]:02x} is not UTF-8 text "
            "(the file was probably saved as Latin-1 or Windows-1252); save it as UTF-8",
        ) from None
    # A release covariance is tens of MB of text: copied again only where a carriage return is in it.
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def require_unique_names(path: Path, names: list[str]) -> None:
    """A header names each column once: a second 'z' would make 'z' ambiguous."""
    first = {}
    for index, name in enumerate(names):
        if name in first:
            raise DataError(
                path,
                f"header names column '{name}' twice (columns {first[name] + 1} and {index + 1}); rename or remove one",
            )
        first[name] = index


def require_rows(path: Path, n_rows: int) -> None:
    if n_rows == 0:
        raise DataError(path, "no data rows (the file is empty or has only a header or comments)")


def require_columns(path: Path, available, wanted, header: str | None = None) -> None:
    """Every ``wanted`` column among ``available``; ``header``, the line they were read from, is shown if given
    (a comment line above the real header is read as the header)."""
    available = list(available)
    line = f"; the header is the file's first line, {header!r}" if header is not None else ""
    for column in wanted:
        if column not in available:
            raise DataError(
                path, f"missing column '{column}' (available columns: {', '.join(map(str, available))}{line})"
            )


def numeric_column(path: Path, frame: Table, column: str) -> np.ndarray:
    """Column ``column`` of ``frame`` as floats (a missing entry as NaN); a non-numeric entry is named by row."""
    raw = frame[column]
    try:
        return to_floats(raw)
    except NotANumber as exc:
        raise DataError(
            path, f"data row {exc.index + 1}, column '{column}': {raw[exc.index]!r} is not a number"
        ) from None


def require_finite(path: Path, columns: dict[str, np.ndarray]) -> None:
    """No NaN (a missing value too) or infinity; the first offending row is named."""
    worst = None
    for column, values in columns.items():
        bad = ~np.isfinite(values)
        if bad.any():
            row = int(np.argmax(bad))
            if worst is None or row < worst[0]:
                worst = (row, column, values[row])
    if worst is not None:
        row, column, value = worst
        what = "missing or NaN" if np.isnan(value) else f"infinite ({value})"
        raise DataError(path, f"data row {row + 1}, column '{column}': value is {what}")


def require_distinct_rows(path: Path, columns: dict[str, np.ndarray]) -> None:
    """With diagonal errors, two rows equal in every column read are one point counted twice.

    A covariance tells a repeated row from a second measurement (the same
    supernova from two surveys has its own rows and columns, and a row copied
    with its covariance row is not positive definite); diagonal errors cannot.
    """
    first: dict[tuple, int] = {}
    for index, row in enumerate(zip(*(values.tolist() for values in columns.values()))):
        if row in first:
            shown = ", ".join(
                f"{role} {v:g}" if isinstance(v, float) else f"{role} {v}" for role, v in zip(columns, row)
            )
            raise DataError(
                path,
                f"data rows {first[row] + 1} and {index + 1} are the same point ({shown}): with diagonal errors "
                "it would count twice; remove one of them",
            )
        first[row] = index


def require_positive(path: Path, column: str, values: np.ndarray, what: str) -> None:
    """Redshifts and errors must be > 0 (distances and 1/σ need it)."""
    bad = values <= 0
    if bad.any():
        row = int(np.argmax(bad))
        raise DataError(path, f"data row {row + 1}, column '{column}': {what} must be > 0, got {values[row]:g}")


def require_light_curve_covariances(path: Path, names, errors: dict, covariances: dict) -> None:
    """Each supernova's covariance of (m_B, x1, c) must be one: positive semi-definite.

    ``errors`` maps the three columns of the errors (m_B's, x1's, c's) to their
    arrays, ``covariances`` the three columns of (m_B, x1), (m_B, c), (x1, c).
    A row that is not would give m_B + α x1 − β c a negative variance for
    some (α, β): a NaN log-likelihood in the middle of a run, naming no row.
    """
    (e_m, s_m), (e_x, s_x), (e_c, s_c) = errors.items()
    (k_mx, c_mx), (k_mc, c_mc), (k_xc, c_xc) = covariances.items()
    rho = {k_mx: c_mx / (s_m * s_x), k_mc: c_mc / (s_m * s_c), k_xc: c_xc / (s_x * s_c)}
    corr = np.empty((len(s_m), 3, 3))
    corr[:] = np.eye(3)
    corr[:, 0, 1] = corr[:, 1, 0] = rho[k_mx]
    corr[:, 0, 2] = corr[:, 2, 0] = rho[k_mc]
    corr[:, 1, 2] = corr[:, 2, 1] = rho[k_xc]
    smallest = np.linalg.eigvalsh(corr)[:, 0]
    if (smallest >= 0).all():
        return
    row = int(np.argmax(smallest < 0))
    column = max(rho, key=lambda k: abs(rho[k][row]))
    detail = (
        f"'{column}' is a correlation of {rho[column][row]:.3g} with '{e_m if column != k_xc else e_x}' and "
        f"'{e_c if column != k_mx else e_x}'"
        if abs(rho[column][row]) > 1
        else f"the correlations {', '.join(f'{k} {rho[k][row]:.3g}' for k in rho)} cannot hold together"
    )
    name = f" ({str(names[row])!r})" if names is not None else ""
    raise DataError(
        path,
        f"data row {row + 1}{name}: the covariance of mb, x1 and color is not a covariance: {detail}; "
        "m_B + alpha x1 - beta c would have a negative variance for some alpha and beta",
    )


def require_redshift_range(path: Path, column: str, z: np.ndarray) -> None:
    bad = z > Z_MAX
    if bad.any():
        row = int(np.argmax(bad))
        raise DataError(
            path,
            f"data row {row + 1}, column '{column}': redshift must be ≤ {Z_MAX:g}, got {z[row]:g} "
            "(no supernova or H(z) measurement lies that far: is it the right column?)",
        )


def require_heliocentric(path: Path, column: str, zhel: np.ndarray, z: np.ndarray) -> None:
    """The heliocentric redshift lies within ``ZHEL_TOLERANCE`` (1 + z) of the redshift."""
    bad = np.abs(zhel - z) > ZHEL_TOLERANCE * (1.0 + z)
    if bad.any():
        row = int(np.argmax(bad))
        raise DataError(
            path,
            f"data row {row + 1}, column '{column}': heliocentric redshift {zhel[row]:g} differs "
            f"from the redshift {z[row]:g} by more than {ZHEL_TOLERANCE:g} (1 + z); the Sun's and "
            "the host's motions shift it by less than 0.005 (1 + z)",
        )


def require_error_range(path: Path, column: str, sigma: np.ndarray) -> None:
    bad = sigma < SIGMA_MIN
    if bad.any():
        row = int(np.argmax(bad))
        raise DataError(
            path,
            f"data row {row + 1}, column '{column}': error {sigma[row]:g} is below {SIGMA_MIN:g}; "
            "no measurement is that precise (is it the right column?), and its inverse square "
            "would overflow the likelihood",
        )


def require_cov_count(path: Path, n: int | None, n_values: int) -> int:
    """The number of values after the header fits an N×N matrix; returns N.

    ``n`` is the size the file declares, or None when its header is text (the
    JLA copy's ``COV``) and N is inferred from the count.
    """
    if n is None:
        n = int(round(np.sqrt(n_values)))
        if n * n != n_values or n == 0:
            raise DataError(path, f"covariance is not square: {n_values} values is not N*N for any N")
        return n
    if n <= 0:
        raise DataError(path, f"covariance size on the first line must be > 0, got {n}")
    if n_values != n * n:
        raise DataError(path, f"covariance declares N={n}, so needs N*N={n * n} values, but has {n_values}")
    return n


def require_covariance(
    path: Path, cov: np.ndarray, n_data: int, add_variance: np.ndarray | None = None
) -> tuple[np.ndarray, float]:
    """A finite, symmetric, positive-definite n_data×n_data matrix: returns it symmetrised, and its largest asymmetry.

    The symmetrised copy removes the last-digit asymmetry of decimal files, so
    both triangles of what the likelihood factors are the same matrix; the
    largest |C_ij − C_ji| of the file is returned for the record.
    ``add_variance`` (one per row) is added to the diagonal before the matrix
    is checked for positive definiteness, for releases whose file leaves out
    the errors of the table (DES-SN5YR).
    """
    cov = np.asarray(cov, dtype=float)
    if cov.ndim != 2 or cov.shape[0] != cov.shape[1]:
        raise DataError(path, f"covariance is not square: shape {cov.shape}")
    if cov.shape[0] != n_data:
        raise DataError(path, f"covariance is {cov.shape[0]}x{cov.shape[0]} but the data file has {n_data} rows")
    _require_finite_elements(path, cov, "covariance")
    asymmetry = require_symmetric(path, cov)
    cov = 0.5 * (cov + cov.T)
    if add_variance is not None:
        cov[np.diag_indices_from(cov)] += add_variance
    _require_positive_definite(path, cov)
    small = np.diag(cov) < SIGMA_MIN**2
    if small.any():
        i = int(np.argmax(small))
        raise DataError(
            path,
            f"covariance element [{i + 1}, {i + 1}] (1-based) is {cov[i, i]:g}, a variance below "
            f"({SIGMA_MIN:g})²: no measurement is that precise, and its inverse would overflow "
            "the likelihood",
        )
    return cov, asymmetry


def require_variances(path: Path, cov: np.ndarray, sigma: np.ndarray) -> None:
    """Refuse a covariance whose diagonal is the table's errors σ rather than their squares.

    Written so, it passes every other check (σ > 0 is a positive definite
    diagonal) and inflates each error to √σ: 0.39 mag for σ = 0.15. Every
    row within the rounding of decimal errors (see BELOW_TABLE_ERRORS) is
    required, and errors near 1, whose squares are the same numbers, are left.
    """
    diag = np.diag(cov)
    if np.all(np.abs(diag - sigma) <= 0.05 * sigma) and np.all(np.abs(diag - sigma**2) > 0.2 * sigma**2):
        raise DataError(
            path,
            f"the covariance's diagonal is the table's errors (role 'sigma'), not their squares, at all "
            f"{sigma.size} rows (data row 1: {diag[0]:.4g} against σ = {sigma[0]:.4g}, σ² = {sigma[0] ** 2:.4g}): "
            "a covariance holds variances. If the column holds variances instead, give it another role or "
            "name (with a covariance it is not read)",
        )


def covariance_below_errors(path: Path, cov: np.ndarray, sigma: np.ndarray) -> str | None:
    """Why the covariance ``path`` seems to miss errors its table gives (diagonal below σ²), or None."""
    below = np.flatnonzero(np.diag(cov) < BELOW_TABLE_ERRORS * sigma**2)
    if not below.size:
        return None
    i = int(below[0])
    return (
        f"covariance '{path}' has a diagonal below the square of the table's errors (role 'sigma') at "
        f"{below.size} of {sigma.size} rows (data row {i + 1}: {cov[i, i]:.4g} against {sigma[i] ** 2:.4g}). "
        "The covariance is the whole error budget: the table's errors are not read when there is one. "
        "If it holds systematic errors only, add the errors squared to its diagonal"
    )


def require_symmetric_matrix(path: Path, matrix: np.ndarray, n_data: int) -> np.ndarray:
    """A finite, symmetric n_data×n_data matrix (not necessarily positive definite), returned symmetrised.

    For the parts of a covariance that are combined before factoring (JLA's
    systematic matrices, whose cross terms are indefinite).
    """
    if matrix.shape != (n_data, n_data):
        raise DataError(path, f"matrix is {matrix.shape[0]}x{matrix.shape[1]} but the data file has {n_data} rows")
    _require_finite_elements(path, matrix, "matrix")
    require_symmetric(path, matrix)
    return 0.5 * (matrix + matrix.T)


def _require_finite_elements(path: Path, matrix: np.ndarray, what: str) -> None:
    bad = ~np.isfinite(matrix)
    if bad.any():
        i, j = np.unravel_index(np.argmax(bad), matrix.shape)
        raise DataError(path, f"{what} element [{i + 1}, {j + 1}] (1-based) is {matrix[i, j]}")


def require_symmetric(path: Path, cov: np.ndarray) -> float:
    """The largest |C_ij − C_ji|, which must be below SYMMETRY_RTOL sqrt(|C_ii C_jj|) everywhere."""
    asym = np.abs(cov - cov.T)
    scale = np.sqrt(np.abs(np.outer(np.diag(cov), np.diag(cov))))
    excess = asym - SYMMETRY_RTOL * scale
    i, j = np.unravel_index(np.argmax(excess), cov.shape)
    if excess[i, j] > 0:
        raise DataError(
            path,
            f"covariance is not symmetric: worst at [{i + 1}, {j + 1}] (1-based), "
            f"C[{i + 1},{j + 1}]={cov[i, j]:.6g} but C[{j + 1},{i + 1}]={cov[j, i]:.6g} "
            f"(asymmetry {asym[i, j]:.3g}, more than {SYMMETRY_RTOL:g} sqrt(C_ii C_jj) = {SYMMETRY_RTOL * scale[i, j]:.3g}, "
            "far beyond the rounding of a decimal file)",
        )
    return float(asym.max())


def _require_positive_definite(path: Path, cov: np.ndarray) -> None:
    from scipy.linalg import LinAlgError, cholesky  # here: scipy.linalg costs ~0.2 s, and only a covariance needs it

    try:
        cholesky(cov, lower=True, check_finite=False)
    except LinAlgError:
        smallest = float(np.linalg.eigvalsh(cov)[0])
        raise DataError(path, f"covariance is not positive definite (smallest eigenvalue {smallest:.3g})") from None
