"""The compiled hot paths of the likelihoods: numba kernels over whole batches of rows.

Per-call overhead matters as much as arithmetic here (a sampler makes
millions of calls on 20–1700 points), so each kernel does one likelihood's
work for a whole batch in one call rather than as a chain of small numpy
operations. They are compiled on their first call (:mod:`janusfit.jit`), once, into
numba's on-disk cache.
"""

from __future__ import annotations

import numpy as np

from ..jit import njit, prange

LOG10_SCALE = 5.0 / np.log(10.0)  # μ = 5 log10 D = LOG10_SCALE · ln D
# error_model="numpy" lets division vectorise (no ZeroDivisionError
# check); no fast-math beyond reassociating sums, so NaN and inf propagate as in
# numpy. Rows are taken as 1-d slices, which numba indexes fastest.
FAST_SUMS = {"reassoc", "contract"}


@njit(cache=True, error_model="numpy")
def forward_substitution(lt, rows):
    """rows ← L⁻¹ rows in place, row by row; ``lt`` = Lᵀ, so column k of L is contiguous."""
    n = lt.shape[0]
    for b in range(rows.shape[0]):
        r = rows[b]
        for k in range(n):
            y = r[k] / lt[k, k]
            r[k] = y
            col = lt[k]
            for i in range(k + 1, n):
                r[i] -= col[i] * y


@njit(cache=True, error_model="numpy")
def residuals(log_d, mu_d):
    """log_d ← μ_obs − μ_model in place, row by row."""
    for b in range(log_d.shape[0]):
        r = log_d[b]
        for i in range(r.size):
            r[i] = mu_d[i] - LOG10_SCALE * r[i]


@njit(cache=True, error_model="numpy", fastmath=FAST_SUMS)
def marginal_chi2(y, u, e, log_e, out):
    """A − B²/E + ln(E/2π) from whitened residual rows y."""
    for b in range(y.shape[0]):
        r = y[b]
        a = 0.0
        s = 0.0
        for i in range(r.size):
            a += r[i] * r[i]
            s += r[i] * u[i]
        out[b] = a - s * s / e + log_e


@njit(cache=True, error_model="numpy", fastmath=FAST_SUMS)
def marginal_chi2_small(log_d, mu_d, lt, u, e, log_e, out):
    """Residual, forward substitution and A − B²/E + ln(E/2π) of each row, in one call (small N)."""
    n = lt.shape[0]
    r = np.empty(n)
    for b in range(log_d.shape[0]):
        row = log_d[b]
        for i in range(n):
            r[i] = mu_d[i] - LOG10_SCALE * row[i]
        a = 0.0
        s = 0.0
        for k in range(n):
            y = r[k] / lt[k, k]
            a += y * y
            s += y * u[k]
            col = lt[k]
            for i in range(k + 1, n):
                r[i] -= col[i] * y
        out[b] = a - s * s / e + log_e


@njit(cache=True, error_model="numpy", fastmath=FAST_SUMS)
def marginal_chi2_diag(log_d, mu_d, inv_sigma, e, log_e, out):
    """The same for diagonal errors, fused with the residual: one pass, no temporaries."""
    for b in range(log_d.shape[0]):
        row = log_d[b]
        a = 0.0
        s = 0.0
        for i in range(row.size):
            y = (mu_d[i] - LOG10_SCALE * row[i]) * inv_sigma[i]
            a += y * y
            s += y * inv_sigma[i]
        out[b] = a - s * s / e + log_e


@njit(cache=True, error_model="numpy", fastmath=FAST_SUMS)
def quadratic_row(row, log_knots, q, v, c0, tail, g):
    """c₀ − vᵀg + gᵀQg for g = ln D − ln z_knot of one row (``g`` is scratch), and the largest |tail · g|."""
    p = log_knots.size
    for j in range(p):
        g[j] = row[j] - log_knots[j]
    acc = c0
    for j in range(p):
        qj = q[j]
        s = -v[j]
        for k in range(p):
            s += qj[k] * g[k]
        acc += g[j] * s
    worst = 0.0
    for r in range(tail.shape[0]):
        t = tail[r]
        c = 0.0
        for j in range(p):
            c += t[j] * g[j]
        worst = max(worst, abs(c))
    return acc, worst


@njit(cache=True, error_model="numpy", fastmath=FAST_SUMS)
def quadratic_chi2(log_d, log_knots, q, v, c0, tail, tol):
    """χ² of each row by :func:`quadratic_row`, whether its tail is below ``tol``, and the count of such rows."""
    g = np.empty(log_knots.size)
    chi2 = np.empty(log_d.shape[0])
    ok = np.empty(log_d.shape[0], dtype=np.bool_)
    for b in range(log_d.shape[0]):
        chi2[b], worst = quadratic_row(log_d[b], log_knots, q, v, c0, tail, g)
        ok[b] = worst <= tol
    return chi2, ok, ok.sum()


@njit(cache=True, error_model="numpy", fastmath=FAST_SUMS, parallel=True)
def quadratic_chi2_parallel(log_d, log_knots, q, v, c0, tail, tol):
    """:func:`quadratic_chi2` with the rows spread over numba's threads (each its own scratch)."""
    chi2 = np.empty(log_d.shape[0])
    ok = np.empty(log_d.shape[0], dtype=np.bool_)
    for b in prange(log_d.shape[0]):
        g = np.empty(log_knots.size)
        chi2[b], worst = quadratic_row(log_d[b], log_knots, q, v, c0, tail, g)
        ok[b] = worst <= tol
    return chi2, ok, ok.sum()


QUADRATIC_CHI2 = (quadratic_chi2, quadratic_chi2_parallel)


@njit(cache=True, error_model="numpy", fastmath=FAST_SUMS)
def hz_chi2_diag(e, h0, h, inv_sigma, out):
    for b in range(e.shape[0]):
        row = e[b]
        a = 0.0
        for i in range(row.size):
            y = (h[i] - h0[b] * row[i]) * inv_sigma[i]
            a += y * y
        out[b] = a


@njit(cache=True)
def inside(theta, bounds):
    """Which rows of ``theta`` are within the (inclusive) bounds, and how many; NaN is outside."""
    ok = np.empty(theta.shape[0], dtype=np.bool_)
    count = 0
    for b in range(theta.shape[0]):
        inside = True
        for k in range(theta.shape[1]):
            inside &= bounds[k, 0] <= theta[b, k] <= bounds[k, 1]
        ok[b] = inside
        count += inside
    return ok, count


@njit(cache=True)
def to_log_likelihood(chi2, norm, theta):
    """chi2 ← −½(χ² + norm) in place; the first row with a NaN result or a non-finite parameter, or −1."""
    first = -1
    for b in range(theta.shape[0]):
        chi2[b] = -0.5 * (chi2[b] + norm)
        if first < 0 and np.isnan(chi2[b]):
            first = b
        for k in range(theta.shape[1]):
            if first < 0 and not np.isfinite(theta[b, k]):
                first = b
    return first
