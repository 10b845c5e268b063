"""A bounded, thinned copy of a growing chain, for the stopping rule.

The autocorrelation time must be re-estimated while the chain grows, but the
chain lives on disk and may not fit in memory. This keeps every ``thin``-th
step, doubling ``thin`` whenever more than ``max_rows`` steps would be kept, so
its size is bounded whatever the chain's length. Which steps are kept depends
only on the iteration count, so a run resumed from a checkpoint rebuilds the
same copy and takes the same stopping decision as an uninterrupted one.

Memory is what this is for, so the copy is one buffer of ``max_rows`` rows in
single precision, thinned in place: no concatenation, no second copy while
thinning or estimating τ, and pages the chain has not reached yet are never
touched. Single precision (7 digits) is far finer than the statistical error of
any τ estimate; the estimate itself is computed in double precision.
"""

from __future__ import annotations

import numpy as np
from emcee.autocorr import auto_window

# Rows moved per slice when thinning in place: numpy copies an overlapping
# source through a temporary, which this keeps small.
COMPACT_ROWS = 512


class ThinnedChain:
    def __init__(self, max_rows: int = 20000):
        self.max_rows = max_rows
        self.thin = 1
        self.n_steps = 0
        self._buf: np.ndarray | None = None
        self._n = 0  # rows of _buf in use

    def append(self, chain: np.ndarray) -> None:
        """Add consecutive steps, shape (n_new, n_walkers, n_params)."""
        if self._buf is None:
            # np.empty maps its pages lazily: only rows written count as resident.
            self._buf = np.empty((self.max_rows,) + chain.shape[1:], dtype=np.float32)
        first = self.n_steps
        self.n_steps += len(chain)
        factor = 1
        while self.n_steps // (self.thin * factor) > self.max_rows:
            factor *= 2
        if factor > 1:
            self._keep_every(factor)
        index = np.arange(first, self.n_steps)
        new = chain[(index + 1) % self.thin == 0]
        self._buf[self._n: self._n + len(new)] = new
        self._n += len(new)

    def _keep_every(self, factor: int) -> None:
        """Thin the kept rows by ``factor``, in place.

        Row p holds step (p + 1)·thin − 1, so the steps whose number + 1 is a
        multiple of the new thin are rows factor − 1, 2·factor − 1, ...
        """
        m = self._n // factor
        for j in range(0, m, COMPACT_ROWS):
            k = min(m, j + COMPACT_ROWS)
            self._buf[j:k] = self._buf[(j + 1) * factor - 1: k * factor: factor]
        self._n = m
        self.thin *= factor

    def array(self) -> np.ndarray:
        """The kept rows (a view, single precision)."""
        return self._buf[: self._n] if self._buf is not None else np.empty((0, 0, 0), dtype=np.float32)

    def tau(self) -> np.ndarray:
        """Integrated autocorrelation time per parameter, in steps of the full chain.

        emcee's estimator (``emcee.autocorr.integrated_time`` with c = 5): the
        autocorrelation function averaged over walkers, summed up to the first
        lag M ≥ 5 τ(M). Each walker's normalised autocorrelation is
        irfft(|F|²)/Σ(x − x̄)², which is linear in |F|², so the walkers' power
        spectra are averaged first and transformed back once per parameter.
        Real FFTs padded to the first fast length ≥ 2n − 1 give the linear
        autocorrelation exactly, as emcee's padding to twice a power of two
        does; one walker's series is in double precision at a time, so there
        are no batch-sized temporaries.
        """
        x = self.array()
        n, n_walkers, n_params = x.shape
        n_fft = _fast_length(2 * n - 1)
        tau = np.empty(n_params)
        for d in range(n_params):
            power = np.zeros(n_fft // 2 + 1)
            for k in range(n_walkers):
                series = x[:, k, d].astype(float)
                series -= series.mean()
                spectrum = np.fft.rfft(series, n=n_fft)
                # Not series @ series: a BLAS dot may wake OpenBLAS's threads,
                # which on a busy machine cost milliseconds per call.
                power += (spectrum.real**2 + spectrum.imag**2) / np.square(series).sum()
            f = np.fft.irfft(power, n=n_fft)[:n] / n_walkers
            taus = 2.0 * np.cumsum(f) - 1.0
            tau[d] = taus[auto_window(taus, 5.0)]
        return tau * self.thin


def _fast_length(n: int) -> int:
    """The smallest 2^a 3^b 5^c ≥ n: FFT lengths pocketfft handles fastest."""
    best = 1 << max(n - 1, 0).bit_length()
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            p = p35
            while p < n:
                p *= 2
            best = min(best, p)
            p35 *= 3
        p5 *= 5
    return best
