"""A dataset's covariance as a whitening operator L⁻¹ (C = LLᵀ) and its log-determinant.

The covariance is factored once (Cholesky); whitening a batch of residual
rows is then one triangular solve. Diagonal errors are the special case
L = diag(σ).
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import cholesky, lapack, solve_triangular

from ..data.dataset import Dataset
from . import kernels

# Up to this N a compiled forward substitution beats LAPACK, whose call overhead
# and thread start-up dominate small solves (and vary by 100× between calls).
SMALL_SOLVE = 256


class Whitening:
    """A dataset's covariance as a whitening operator L⁻¹ and its log-determinant.

    Diagonal errors keep 1/σ; a full covariance keeps its Cholesky factor, as
    ``lt`` = Lᵀ (C order, column k of L contiguous) for the compiled forward
    substitution up to SMALL_SOLVE points, else Fortran-ordered for LAPACK,
    which then takes it without a copy per call.
    """

    def __init__(self, dataset: Dataset):
        self.inv_sigma = self.lt = self._chol_f = None
        if dataset.has_full_cov:
            chol = cholesky(dataset.cov, lower=True)
            if chol.shape[0] <= SMALL_SOLVE:
                self.lt = np.ascontiguousarray(chol.T)
            else:
                self._chol_f = np.asfortranarray(chol)
            self.log_det = 2.0 * float(np.sum(np.log(np.diag(chol))))
        else:
            self.inv_sigma = np.ascontiguousarray(1.0 / dataset.sigma)
            self.log_det = 2.0 * float(np.sum(np.log(dataset.sigma)))

    @property
    def diagonal(self) -> bool:
        return self.inv_sigma is not None

    @property
    def chol(self) -> np.ndarray:
        """The lower Cholesky factor L of the covariance."""
        return self.lt.T if self._chol_f is None else self._chol_f

    def whiten(self, rows: np.ndarray) -> np.ndarray:
        """L⁻¹r for each row r of ``rows`` (which may be overwritten), returned as rows."""
        if self.diagonal:
            return rows * self.inv_sigma
        if self.lt is not None:
            kernels.forward_substitution(self.lt, rows)
            return rows
        # rows.T is a Fortran-ordered matrix of columns: solved in place.
        y, info = lapack.dtrtrs(self._chol_f, rows.T, lower=1, overwrite_b=1)
        if info != 0:
            raise np.linalg.LinAlgError(f"triangular solve failed (LAPACK info {info})")
        return y.T

    def whiten_columns(self, columns: np.ndarray) -> np.ndarray:
        """L⁻¹ applied to a vector or to each column of a matrix (set-up only)."""
        if self.diagonal:
            return columns * (self.inv_sigma if columns.ndim == 1 else self.inv_sigma[:, None])
        return solve_triangular(self.chol, columns, lower=True)
