"""The JLA light-curve likelihood: SALT2 parameters standardised with sampled α and β.

The data are, per supernova i, the peak magnitude m_B, stretch x1 and colour c
with their errors and covariances, and the host's stellar mass (Betoule et
al. 2014, A&A 568, A22, the 740 supernovae of JLA). The distance modulus is

    μ_obs,i = m_B,i − (M_B − α x1,i + β c,i),    M_B → M_B + ΔM for log10 M* > split,

so the standardisation coefficients α and β are parameters of the run (the
nuisance parameters :data:`NUISANCE_PARAMS`), sampled with flat priors
beside the model's. The two absolute magnitudes (with H0, which they absorb)
are marginalised analytically with flat priors: with Δ = m_B + α x1 − β c −
μ_model, X the N × k indicator matrix of the k host-mass groups (k = 1 with
no split, or when one group is empty) and C the covariance,

    χ² = A − bᵀF⁻¹b + ln det(F/2π),   A = ΔᵀC⁻¹Δ, b = XᵀC⁻¹Δ, F = XᵀC⁻¹X,

which is −2 ln ∫ exp(−χ²(M)/2) dᵏM exactly: Conley et al.'s formula for two
offsets, as Cobaya's ``sn.jla`` evaluates it (``alpha_beta_logp`` with
``twoscriptmfit``). The model's magnitude is 5 log10((1 + z_hel)/(1 + z_cmb)
D_L(z_cmb)) = 5 log10((1 + z_hel) D_M(z_cmb)), D_M in units of c/H0.

C depends on α and β. Its diagonal, the statistical variance of each
supernova, is

    dm_B² + α² dx1² + β² dc² + 2α C(m,x1) − 2β C(m,c) − 2αβ C(x1,c)
          + (5/ln 10)² pecz² ((1 + z)/(z (1 + z/2)))²,

the last term being a peculiar velocity ``pecz`` (in units of c) at
z = z_cmb. Every dataset gives it (:data:`janusfit.data.loaders.PECZ_REQUIRED`):
JLA's own file is read with 0, its dm_B holding 150 km/s already. A reading
without pecz stands for 0.001, Cobaya's code default, which the reading
leaves out as it did when pecz could be left out. The release's systematic matrices, when given,
add C_v0 + α² C_va + β² C_vb + 2α C_v0a − 2β C_v0b − 2αβ C_vab (the blocks of
its 3N × 3N C_η seen through A = A₀ + α A₁ − β A₂; see
:func:`systematic_covariance`), and every (α, β) then needs its own N × N
Cholesky factor. Whether −½ ln det C(α, β) enters the log-likelihood is
``log_det_cov``: off by default, as in Cobaya and CosmoMC; on, the
likelihood is the normalised Gaussian marginal.
"""

from __future__ import annotations

import numpy as np

from ..data.lightcurves import COVMAT_KEYS, NUISANCE_PARAMS, LightCurves, options
from ..jit import Deferred, njit, prange
from ..models import RedshiftGrid
from . import parallel
from .kernels import FAST_SUMS, LOG10_SCALE


def covmat_weights(alpha: float, beta: float) -> np.ndarray:
    """Weights of (C_v0, C_va, C_vb, C_v0a, C_v0b, C_vab) in C_sys(α, β)."""
    return np.array([1.0, alpha * alpha, beta * beta, 2.0 * alpha, -2.0 * beta, -2.0 * alpha * beta])


def systematic_covariance(covmats: dict[str, np.ndarray], alpha: float, beta: float) -> np.ndarray:
    """C_v0 + α² C_va + β² C_vb + 2α C_v0a − 2β C_v0b − 2αβ C_vab."""
    return sum(w * covmats[key] for w, key in zip(covmat_weights(alpha, beta), COVMAT_KEYS))


class LightCurveLikelihood:
    """χ² of light-curve data with α, β given per row and the k ≤ 2 magnitudes marginalised.

    ``chi2(model, theta, nuisance)`` takes the model's parameters and the
    columns (α, β) of the batch. The norm (the parameter-free part of
    −2 ln L) is N ln 2π; with ``log_det_cov`` the χ² also carries ln det C(α, β).
    """

    nuisance = NUISANCE_PARAMS

    def __init__(self, dataset, pecz: float, host_mass_split: float | None, log_det_cov: bool = False):
        lc: LightCurves = dataset.light_curves
        self.dataset = dataset
        self.log_det_cov = bool(log_det_cov)
        self.z = np.ascontiguousarray(dataset.z, dtype=float)
        zhel = self.z if dataset.zhel is None else np.asarray(dataset.zhel, dtype=float)
        self.grid = RedshiftGrid(self.z, graded=False)
        # m_B less the (1 + z_hel) factor of the model's magnitude; a constant
        # (absorbed by the magnitudes) is taken out so that A stays O(N), not O(10⁵ N).
        mb_d = np.asarray(lc.mb, dtype=float) - LOG10_SCALE * np.log1p(zhel)
        self._mb_d = np.ascontiguousarray(mb_d - np.mean(mb_d - LOG10_SCALE * np.log(self.z)))
        self._x1 = np.ascontiguousarray(lc.x1, dtype=float)
        self._color = np.ascontiguousarray(lc.color, dtype=float)
        z = self.z
        self.pecz_var = LOG10_SCALE**2 * pecz**2 * ((1.0 + z) / (z * (1.0 + 0.5 * z))) ** 2
        self._var0 = np.ascontiguousarray(np.asarray(lc.dmb, dtype=float) ** 2 + self.pecz_var)
        self._var_x1 = np.ascontiguousarray(np.asarray(lc.dx1, dtype=float) ** 2)
        self._var_c = np.ascontiguousarray(np.asarray(lc.dcolor, dtype=float) ** 2)
        self._cov = [np.ascontiguousarray(a, dtype=float) for a in (lc.cov_m_s, lc.cov_m_c, lc.cov_s_c)]
        self.groups = self._host_groups(np.asarray(lc.host_mass, dtype=float), host_mass_split)
        # The per-supernova columns the diagonal kernel reads, one row each, in DIAG_COLUMNS order.
        self._diag_columns = np.ascontiguousarray(
            np.stack([self._mb_d, self._x1, self._color, self._var0, self._var_x1, self._var_c, *self._cov])
        )
        self.n_groups = int(self.groups.max()) + 1
        self._x = np.ascontiguousarray(np.eye(self.n_groups)[self.groups])
        self._packed = None if lc.covmats is None else pack_lower(lc.covmats)
        self.norm = z.size * np.log(2.0 * np.pi)

    @classmethod
    def from_dataset(cls, dataset) -> LightCurveLikelihood:
        """The likelihood with the options of the dataset's config entry (``dataset.reading``)."""
        opts = options(dataset.reading)
        return cls(dataset, pecz=opts["pecz"], host_mass_split=opts["host_mass_split"], log_det_cov=opts["log_det_cov"])

    @staticmethod
    def nuisance_priors(dataset) -> dict[str, tuple[float, float]]:
        """The flat priors of α and β that the dataset's config entry gives (or the defaults)."""
        return {
            name: tuple(float(v) for v in lohi) for name, lohi in options(dataset.reading)["nuisance_priors"].items()
        }

    @staticmethod
    def _host_groups(host_mass: np.ndarray, split: float | None) -> np.ndarray:
        """0 for log10 M* ≤ split, 1 above; one group when there is no split or one side is empty (as Cobaya)."""
        if split is None:
            return np.zeros(host_mass.size, dtype=np.int64)
        above = (host_mass > split).astype(np.int64)
        return above if 0 < above.sum() < above.size else np.zeros(host_mass.size, dtype=np.int64)

    @property
    def has_systematics(self) -> bool:
        return self._packed is not None

    @property
    def variance_terms(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(var0, var_x1, var_c): σ_mB² with the pecz term, σ_x1², σ_c², the parts of :meth:`variance` that α and β scale.

        The likelihood's own arrays, not copies, for benchmarks that time the same arithmetic outside janusfit.
        """
        return self._var0, self._var_x1, self._var_c

    def variance(self, alpha: float, beta: float) -> np.ndarray:
        """The per-supernova statistical variance at (α, β), the pecz term included."""
        ms, mc, sc = self._cov
        return (
            self._var0
            + alpha**2 * self._var_x1
            + beta**2 * self._var_c
            + 2.0 * alpha * ms
            - 2.0 * beta * mc
            - 2.0 * alpha * beta * sc
        )

    def covariance(self, alpha: float, beta: float) -> np.ndarray:
        """The full N × N covariance at (α, β): the statistical diagonal plus the systematic matrices."""
        if self._packed is None:
            return np.diag(self.variance(alpha, beta))
        lower = self._lower_covariance(alpha, beta, np.empty((self.z.size, self.z.size))).T
        return np.tril(lower) + np.tril(lower, -1).T

    def _lower_covariance(self, alpha: float, beta: float, buffer: np.ndarray) -> np.ndarray:
        """C(α, β)'s lower triangle in ``buffer.T`` (Fortran order; the upper triangle is not set)."""
        _assemble_lower(self._packed, covmat_weights(alpha, beta), self.variance(alpha, beta), buffer)
        return buffer

    def chi2(self, model, theta: np.ndarray, nuisance: np.ndarray) -> np.ndarray:
        log_d = np.log(model.transverse_distance(theta, self.grid))
        alpha = np.ascontiguousarray(nuisance[:, 0])
        beta = np.ascontiguousarray(nuisance[:, 1])
        if self._packed is None:
            out = np.empty(len(theta))
            parallel.kernel(CHI2_DIAG)(
                log_d, alpha, beta, self._diag_columns, self.groups, self.n_groups, self.log_det_cov, out
            )
            return out
        weights = np.stack([covmat_weights(a, b) for a, b in zip(alpha, beta)])
        variances = np.stack([self.variance(a, b) for a, b in zip(alpha, beta)])
        rhs = np.empty((len(theta), 1 + self.n_groups, self.z.size))
        for b in range(len(theta)):
            rhs[b, 0] = self.residuals(log_d[b], alpha[b], beta[b])
            rhs[b, 1:] = self._x.T
        out = np.empty(len(theta))
        with parallel.rows_on_threads():
            parallel.kernel(CHI2_FULL)(self._packed, weights, variances, rhs, self.log_det_cov, out, parallel.threads())
        return out

    def log_det_terms(self, nuisance: np.ndarray) -> np.ndarray:
        """What :meth:`chi2` adds to the residuals' χ² per row of (α, β): ln det(F/2π), and ln det C with ``log_det_cov``.

        Plain numpy, one row at a time: for the best fit and the report, not the samplers.
        """
        out = np.empty(len(nuisance))
        for b, (alpha, beta) in enumerate(nuisance):
            if self._packed is None:
                variance = self.variance(alpha, beta)
                f = self._x.T @ (self._x / variance[:, None])
                log_det_c = np.sum(np.log(variance))
            else:
                lower = np.linalg.cholesky(self.covariance(alpha, beta))
                whitened = np.linalg.solve(lower, self._x)
                f = whitened.T @ whitened
                log_det_c = 2.0 * np.sum(np.log(np.diag(lower)))
            out[b] = np.linalg.slogdet(f / (2.0 * np.pi))[1] + (log_det_c if self.log_det_cov else 0.0)
        return out

    def residuals(self, log_d: np.ndarray, alpha: float, beta: float) -> np.ndarray:
        """Δ = m_B + α x1 − β c − μ_model (up to a constant) for one row of ln D_M."""
        return self._mb_d + alpha * self._x1 - beta * self._color - LOG10_SCALE * log_d


@njit(cache=True, error_model="numpy", fastmath=FAST_SUMS)
def _diag_row(row, a, bt, columns, groups, n_groups, with_log_det):
    """The marginalised χ² of one row for diagonal C(α, β), in one pass: F is then diagonal.

    ``columns``: m_B − μ offset, x1, c, their variances (m_B's with the
    peculiar-velocity term) and covariances (m–s, m–c, s–c), one row each.
    A variance ≤ 0 (α, β outside what the light-curve covariances allow) makes the row NaN.
    """
    mb_d, x1, color = columns[0], columns[1], columns[2]
    var0, var_x1, var_c = columns[3], columns[4], columns[5]
    ms, mc, sc = columns[6], columns[7], columns[8]
    two_pi = 2.0 * np.pi
    aa = a * a
    bb = bt * bt
    ab2 = 2.0 * a * bt
    a2 = 2.0 * a
    b2 = 2.0 * bt
    chi = 0.0
    s0 = 0.0
    s1 = 0.0
    e0 = 0.0
    e1 = 0.0
    log_det = 0.0
    for i in range(row.size):
        v = var0[i] + aa * var_x1[i] + bb * var_c[i] + a2 * ms[i] - b2 * mc[i] - ab2 * sc[i]
        w = 1.0 / v
        d = mb_d[i] + a * x1[i] - bt * color[i] - LOG10_SCALE * row[i]
        wd = w * d
        chi += wd * d
        if groups[i] == 0:
            s0 += wd
            e0 += w
        else:
            s1 += wd
            e1 += w
        if with_log_det:
            log_det += np.log(v)
        elif v <= 0.0:
            log_det = np.nan
    chi += np.log(e0 / two_pi) - s0 * s0 / e0
    if n_groups == 2:
        chi += np.log(e1 / two_pi) - s1 * s1 / e1
    return chi + log_det


@njit(cache=True, error_model="numpy", fastmath=FAST_SUMS)
def _chi2_diag(log_d, alpha, beta, columns, groups, n_groups, with_log_det, out):
    """:func:`_diag_row` of every row."""
    for b in range(log_d.shape[0]):
        out[b] = _diag_row(log_d[b], alpha[b], beta[b], columns, groups, n_groups, with_log_det)


@njit(cache=True, error_model="numpy", fastmath=FAST_SUMS, parallel=True)
def _chi2_diag_parallel(log_d, alpha, beta, columns, groups, n_groups, with_log_det, out):
    """:func:`_chi2_diag` with the rows spread over numba's threads."""
    for b in prange(log_d.shape[0]):
        out[b] = _diag_row(log_d[b], alpha[b], beta[b], columns, groups, n_groups, with_log_det)


CHI2_DIAG = (_chi2_diag, _chi2_diag_parallel)


@njit(cache=True, error_model="numpy", nogil=True)
def _assemble_lower(packed, weights, var, out):
    """The lower triangle of C(α, β) into ``out.T`` (Fortran order, as LAPACK takes it), without the GIL.

    ``packed`` holds the six systematic matrices' lower triangles column by
    column, the six values of an element side by side, so one sequential
    pass reads them (half the bytes of the full matrices); the upper
    triangle of ``out.T`` is left as it was, which LAPACK's lower routines never read.
    """
    n = out.shape[0]
    w0, w1, w2, w3, w4, w5 = weights[0], weights[1], weights[2], weights[3], weights[4], weights[5]
    p = 0
    for j in range(n):
        col = out[j]
        for i in range(j, n):
            e = packed[p]
            col[i] = w0 * e[0] + w1 * e[1] + w2 * e[2] + w3 * e[3] + w4 * e[4] + w5 * e[5]
            p += 1
        col[j] += var[j]


def pack_lower(covmats: dict[str, np.ndarray]) -> np.ndarray:
    """The (n(n+1)/2, 6) layout :func:`_assemble_lower` reads: lower triangles, column by column, keys in COVMAT_KEYS order."""
    first = np.asarray(covmats[COVMAT_KEYS[0]])
    # Column j's lower part is row j's upper part of the transpose: C-order upper triangle of Cᵀ.
    rows, cols = np.triu_indices(first.shape[0])
    return np.ascontiguousarray(
        np.stack([np.asarray(covmats[k], dtype=float).T[rows, cols] for k in COVMAT_KEYS], axis=1)
    )


# LAPACK's dpotrf as numba calls it for np.linalg.cholesky (through scipy's
# cython_lapack, resolved when the kernel runs, so the kernel stays in numba's
# on-disk cache): called directly, it factors the buffer in place, without
# the copy and the zeroed upper triangle np.linalg.cholesky adds, and without
# the GIL, which scipy's wrapper holds (measured: two threads, no gain).
def _lapack_potrf(numba):
    from numba.np.linalg import _LAPACK

    return _LAPACK().numba_xxpotrf(numba.float64)


_POTRF = Deferred(_lapack_potrf)
_DOUBLE, _LOWER = ord("d"), ord("L")


@njit(cache=True, error_model="numpy", fastmath=FAST_SUMS)
def _full_row(packed, weights, var, rhs, with_log_det, buffer):
    """χ² of one row through the Cholesky factor of C(α, β), factored in ``buffer`` (N × N, overwritten).

    ``rhs`` is (1 + k, N): Δ, then the k group indicators; it is overwritten by
    L⁻¹ of each. The k ≤ 2 magnitudes are marginalised in closed form:
    A − bᵀF⁻¹b + ln det(F/2π) with F = XᵀC⁻¹X (k × k), b = XᵀC⁻¹Δ.
    """
    n = buffer.shape[0]
    _assemble_lower(packed, weights, var, buffer)
    if _POTRF(_DOUBLE, _LOWER, n, buffer.ctypes, n) != 0:
        return np.nan
    # Forward substitution of every right-hand side at once: one pass over L
    # (row k of ``buffer`` is column k of L).
    m = rhs.shape[0]
    log_det = 0.0
    for k in range(n):
        col = buffer[k]
        pivot = col[k]
        log_det += np.log(pivot)
        for j in range(m):
            r = rhs[j]
            y = r[k] / pivot
            r[k] = y
            for i in range(k + 1, n):
                r[i] -= col[i] * y
    d = rhs[0]
    a = 0.0
    for i in range(n):
        a += d[i] * d[i]
    two_pi = 2.0 * np.pi
    if m == 2:
        b0 = f00 = 0.0
        x0 = rhs[1]
        for i in range(n):
            b0 += x0[i] * d[i]
            f00 += x0[i] * x0[i]
        chi2 = a - b0 * b0 / f00 + np.log(f00 / two_pi)
    else:
        b0 = b1 = f00 = f01 = f11 = 0.0
        x0 = rhs[1]
        x1 = rhs[2]
        for i in range(n):
            b0 += x0[i] * d[i]
            b1 += x1[i] * d[i]
            f00 += x0[i] * x0[i]
            f01 += x0[i] * x1[i]
            f11 += x1[i] * x1[i]
        det = f00 * f11 - f01 * f01
        chi2 = a - (f11 * b0 * b0 - 2.0 * f01 * b0 * b1 + f00 * b1 * b1) / det + np.log(det / (two_pi * two_pi))
    if with_log_det:
        chi2 += 2.0 * log_det
    return chi2


@njit(cache=True, error_model="numpy", nogil=True)
def _chi2_full(packed, weights, var, rhs, with_log_det, out, n_threads):
    """:func:`_full_row` of every row, in one N × N buffer (``n_threads`` is the parallel twin's)."""
    buffer = np.empty((var.shape[1], var.shape[1]))
    for b in range(out.size):
        out[b] = _full_row(packed, weights[b], var[b], rhs[b], with_log_det, buffer)


@njit(cache=True, error_model="numpy", nogil=True, parallel=True)
def _chi2_full_parallel(packed, weights, var, rhs, with_log_det, out, n_threads):
    """:func:`_chi2_full` with the rows dealt to ``n_threads`` of numba's threads, each with its own buffer.

    One buffer per thread, not per row: a fresh 4 MB array pays its page
    faults every time. The count is an argument: ``numba.get_num_threads()``
    inside the kernel is a ctypes call, which keeps it out of numba's on-disk cache.
    """
    n_threads = min(n_threads, out.size)
    for t in prange(n_threads):
        buffer = np.empty((var.shape[1], var.shape[1]))
        for b in range(t, out.size, n_threads):
            out[b] = _full_row(packed, weights[b], var[b], rhs[b], with_log_det, buffer)


CHI2_FULL = (_chi2_full, _chi2_full_parallel)
