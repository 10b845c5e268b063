"""Checks that the numbers read from a data file are usable.

Each check raises :class:`DataError` with a message that names the file, where
the problem is (1-based data row and column, or covariance element) and what it
is, so that a failed Snakemake job says exactly which byte of which input to fix.
Data rows are counted from 1 after the header and any comment lines. A
configuration that asks a format for the wrong kind of data raises
:class:`ConfigError` instead, since the fix is in the config, not in the file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy.linalg import LinAlgError, cholesky

from ..errors import ConfigError, DataError

# Releases write symmetric matrices in decimal, so their transposes differ in
# the last digit (Union3 and JLA: ~1e-16); a real asymmetry is far larger.
SYMMETRY_RTOL = 1e-8


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


def require_rows(path: Path, n_rows: int) -> None:
    if n_rows == 0:
        raise DataError(path, "no data rows (the file is empty or has only a header or comments)")


def require_columns(path: Path, available, wanted) -> None:
    available = list(available)
    for column in wanted:
        if column not in available:
            raise DataError(path, f"missing column '{column}' (available columns: {', '.join(map(str, available))})")


def numeric_column(path: Path, frame: pd.DataFrame, column: str) -> np.ndarray:
    """Column ``column`` of ``frame`` as floats; a non-numeric entry is named by row."""
    raw = frame[column]
    values = pd.to_numeric(raw, errors="coerce")
    bad = values.isna() & raw.notna()
    if bad.any():
        row = int(np.argmax(bad.to_numpy()))
        raise DataError(path, f"data row {row + 1}, column '{column}': {raw.iloc[row]!r} is not a number")
    return values.to_numpy(dtype=float)


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


def require_positive(path: Path, column: str, values: np.ndarray, what: str) -> None:
    """Redshifts and errors must be > 0 (distances and 1/σ need it)."""
    bad = values <= 0
    if bad.any():
        row = int(np.argmax(bad))
        raise DataError(path, f"data row {row + 1}, column '{column}': {what} must be > 0, got {values[row]:g}")


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


def require_covariance(path: Path, cov: np.ndarray, n_data: int) -> np.ndarray:
    """A finite, symmetric, positive-definite n_data×n_data matrix; returns it symmetrised.

    The symmetrised copy removes the last-digit asymmetry of decimal files, so
    both triangles of what the likelihood factors are the same matrix.
    """
    cov = np.asarray(cov, dtype=float)
    if cov.ndim != 2 or cov.shape[0] != cov.shape[1]:
        raise DataError(path, f"covariance is not square: shape {cov.shape}")
    if cov.shape[0] != n_data:
        raise DataError(path, f"covariance is {cov.shape[0]}x{cov.shape[0]} but the data file has {n_data} rows")
    bad = ~np.isfinite(cov)
    if bad.any():
        i, j = np.unravel_index(np.argmax(bad), cov.shape)
        raise DataError(path, f"covariance element [{i + 1}, {j + 1}] (1-based) is {cov[i, j]}")
    _require_symmetric(path, cov)
    cov = 0.5 * (cov + cov.T)
    _require_positive_definite(path, cov)
    return cov


def _require_symmetric(path: Path, cov: np.ndarray) -> None:
    asym = np.abs(cov - cov.T)
    i, j = np.unravel_index(np.argmax(asym), cov.shape)
    scale = np.max(np.abs(np.diag(cov)))
    if asym[i, j] > SYMMETRY_RTOL * scale:
        raise DataError(
            path,
            f"covariance is not symmetric: worst at [{i + 1}, {j + 1}] (1-based), "
            f"C[{i + 1},{j + 1}]={cov[i, j]:.6g} but C[{j + 1},{i + 1}]={cov[j, i]:.6g} "
            f"(asymmetry {asym[i, j]:.3g})",
        )


def _require_positive_definite(path: Path, cov: np.ndarray) -> None:
    try:
        cholesky(cov, lower=True, check_finite=False)
    except LinAlgError:
        smallest = float(np.linalg.eigvalsh(cov)[0])
        raise DataError(
            path, f"covariance is not positive definite (smallest eigenvalue {smallest:.3g})"
        ) from None
