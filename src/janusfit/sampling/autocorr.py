"""The integrated autocorrelation time of a growing chain, exact at any length, in bounded memory.

The stopping rule re-estimates τ while the chain grows, but the chain lives on
disk and may not fit in memory. A thinned copy of it cannot do: thinning by k
hides every correlation shorter than k steps, so it reports about k·τ(thinned)
≥ k however short the true τ is, and a long chain then never looks converged.

This keeps instead, for each walker and parameter, the sums emcee's estimator
is made of, up to a largest lag L (``max_lag``):

    P(l) = Σ_{t=0}^{n−1−l} x_t x_{t+l}   (l < L),

the first and the last L values of the series, and its sum S. The
autocovariance about the whole chain's mean x̄ = S/n then follows exactly,

    Σ_{t<n−l} (x_t − x̄)(x_{t+l} − x̄) = P(l) − x̄ (S − last_l) − x̄ (S − first_l) + (n − l) x̄²,

with first_l (last_l) the sum of the first (last) l values. So :meth:`tau` is
``emcee.autocorr.integrated_time(chain, c=5)`` of the whole chain (the
walker-averaged autocorrelation summed up to the first lag M ≥ 5 τ(M)) as long
as that window M is below L. A chain whose window would reach L has τ ≥ L/5:
its estimate is then a lower bound and is reported as not resolved.

P grows block by block: the products of a block of new steps with itself and
with the L steps before it are one FFT cross-correlation. Blocks end at fixed
multiples of ``BLOCK`` steps, so the floating-point operations, and with them
every stopping decision, depend only on the iteration count: a run resumed
from a checkpoint replays its segments through the same blocks and decides as
an uninterrupted one does. Steps after the last block boundary are held
(at most ``BLOCK`` of them) and enter :meth:`tau` without being committed.

Values are shifted by each series' first value before anything is summed, so
a parameter far from zero (H0 ≈ 70) loses no precision to cancellation.
"""

from __future__ import annotations

import numpy as np

from ..settings import CHECK_EVERY, TAU_MAX_LAG

BLOCK = CHECK_EVERY  # steps per committed block: the stopping rule's default check interval
FIRST_LAGS = 256  # lags tried first by tau(); four times more each time the window is beyond them
WALKER_CHUNK = 32  # walkers transformed at once, which bounds the FFT temporaries
WINDOW_C = 5.0  # emcee's default window constant c


class AutocorrTime:
    """τ of every parameter of a chain fed in consecutive pieces of shape (n_new, n_walkers, n_params).

    Internally every array is (n_params, n_walkers, steps or lags), so that one
    parameter's walkers are contiguous series for the FFTs.
    """

    def __init__(self, max_lag: int = TAU_MAX_LAG):
        if max_lag < 2:
            raise ValueError(f"max_lag must be at least 2, got {max_lag}")
        self.max_lag = max_lag
        self.n_steps = 0
        self._n_done = 0  # steps committed into the sums
        self._pending: list[np.ndarray] = []
        self._shape: tuple[int, int] | None = None

    def _allocate(self, n_walkers: int, n_params: int) -> None:
        L = self.max_lag
        self._shape = (n_walkers, n_params)
        # np.zeros/np.empty map pages lazily: a short chain only makes what it reaches resident.
        self._sums = np.zeros((n_params, n_walkers, L))
        self._first = np.empty((n_params, n_walkers, L))
        self._last = np.empty((n_params, n_walkers, L))  # a ring: step t is at column t mod L
        self._total = np.zeros((n_params, n_walkers))

    def append(self, chain: np.ndarray) -> None:
        """Add consecutive steps."""
        chain = np.asarray(chain, dtype=float)
        if chain.ndim != 3:
            raise ValueError(f"expected (n_steps, n_walkers, n_params), got shape {chain.shape}")
        if not len(chain):
            return
        if self._shape is None:
            self._allocate(*chain.shape[1:])
            self._ref = chain[0].T[:, :, None].copy()
        elif chain.shape[1:] != self._shape:
            raise ValueError(f"steps of shape {chain.shape[1:]} appended to a chain of {self._shape}")
        at = 0
        while at < len(chain):
            boundary = (self.n_steps // BLOCK + 1) * BLOCK
            take = min(len(chain) - at, boundary - self.n_steps)
            self._pending.append(chain[at : at + take].transpose(2, 1, 0) - self._ref)
            self.n_steps += take
            at += take
            if self.n_steps == boundary:
                self._commit(np.concatenate(self._pending, axis=2))
                self._pending = []

    def _commit(self, block: np.ndarray) -> None:
        L, start, b = self.max_lag, self._n_done, block.shape[2]
        lags = min(L, start + b)
        for d in range(len(block)):
            self._sums[d, :, :lags] += self._products(block[d], d, lags)
        # The first L steps, and the last L in a ring.
        if start < L:
            k = min(L, start + b) - start
            self._first[:, :, start : start + k] = block[:, :, :k]
        steps = np.arange(start, start + b)[-L:]
        self._last[:, :, steps % L] = block[:, :, b - len(steps) :]
        self._total += block.sum(axis=2)
        self._n_done += b

    def _before(self, d: int, count: int) -> np.ndarray:
        """Parameter d's last ``count`` committed steps (count ≤ L), in order: (n_walkers, count)."""
        count = min(count, self._n_done)
        return self._last[d][:, np.arange(self._n_done - count, self._n_done) % self.max_lag]

    def _products(self, block: np.ndarray, d: int, lags: int) -> np.ndarray:
        """Σ_s x_s x_{s−l} over the steps s of ``block`` (n_walkers, steps), all earlier x_{s−l} included, l < ``lags``."""
        carry = self._before(d, lags)
        c, b = carry.shape[1], block.shape[1]
        y = np.concatenate([carry, block], axis=1)
        n_fft = _fast_length(c + 2 * b)
        out = np.empty((len(block), lags))
        # Cross-correlation g(k) = Σ_j block_j y_{j+k}; lag l is k = c − l, a negative k
        # (early in the chain, where fewer than l steps precede) wrapping around.
        index = slice(c, c - lags, -1) if lags <= c else (c - np.arange(lags)) % n_fft
        for w in range(0, len(block), WALKER_CHUNK):
            rows = slice(w, w + WALKER_CHUNK)
            spectrum = np.fft.rfft(block[rows], n=n_fft)
            np.conjugate(spectrum, out=spectrum)
            spectrum *= np.fft.rfft(y[rows], n=n_fft)
            out[rows] = np.fft.irfft(spectrum, n=n_fft)[:, index]
        return out

    def tau(self) -> tuple[np.ndarray, np.ndarray]:
        """(τ per parameter in steps, whether each was resolved within ``max_lag``).

        Exactly ``emcee.autocorr.integrated_time(whole chain, c=5, tol=0)``
        where resolved; a lower bound where not (τ ≥ max_lag / 5). NaN before
        two steps.
        """
        if self.n_steps < 2:
            n_params = self._shape[1] if self._shape else 0
            return np.full(n_params, np.nan), np.zeros(n_params, dtype=bool)
        n_walkers, n_params = self._shape
        pending = np.concatenate(self._pending, axis=2) if self._pending else np.empty((n_params, n_walkers, 0))
        most = min(self.n_steps, self.max_lag)
        tau, resolved = np.empty(n_params), np.empty(n_params, dtype=bool)
        for d in range(n_params):
            # emcee's window is the first lag M ≥ c τ(M), and τ up to lag M needs
            # only the lags below it: try a few lags, and more only if needed.
            lags = min(FIRST_LAGS, most)
            while True:
                taus = self._partial_taus(d, pending[d], lags)
                inside = np.arange(lags) < WINDOW_C * taus
                # Over the whole chain there always is such a lag (τ(n − 1) = 0
                # about the chain's mean); within max_lag lags there may not be.
                if not inside.all() or lags == most:
                    break
                lags = min(4 * lags, most)
            resolved[d] = not inside.all()
            tau[d] = taus[np.argmin(inside)] if resolved[d] else taus[-1]
        return tau, resolved

    def _partial_taus(self, d: int, pending: np.ndarray, lags: int) -> np.ndarray:
        """emcee's τ(l) = 2 Σ_{l'≤l} ρ(l') − 1 of parameter d for l < ``lags``, pending steps (n_walkers, p) included."""
        n, n_walkers = self.n_steps, self._shape[0]
        sums = self._sums[d, :, :lags].copy()
        if pending.shape[1]:
            sums += self._products(pending, d, lags)
        done = min(self._n_done, self.max_lag)
        first = np.concatenate([self._first[d, :, : min(done, lags)], pending[:, : max(lags - done, 0)]], axis=1)
        last = np.concatenate([self._before(d, lags), pending], axis=1)[:, -lags:]
        total = self._total[d] + pending.sum(axis=1)
        f = np.zeros(lags)
        for w in range(0, n_walkers, WALKER_CHUNK):
            rows = slice(w, w + WALKER_CHUNK)
            acov = _autocovariance(sums[rows], first[rows], last[rows], total[rows], n)
            f += (acov / acov[:, :1]).sum(axis=0)
        return 2.0 * np.cumsum(f / n_walkers) - 1.0


def _autocovariance(sums, first, last, total, n):
    """Σ_{t<n−l} (x_t − x̄)(x_{t+l} − x̄) of each walker (rows), lags l < sums.shape[1].

    From the lag products, the first and last values and the sum of each series.
    """
    lags = sums.shape[1]
    mean = (total / n)[:, None]
    head = np.zeros_like(first)  # Σ of the first l values
    np.cumsum(first[:, :-1], axis=1, out=head[:, 1:])
    tail = np.zeros_like(last)  # Σ of the last l values
    np.cumsum(last[:, ::-1][:, :-1], axis=1, out=tail[:, 1:])
    return sums - mean * (2.0 * total[:, None] - head - tail) + (n - np.arange(lags)) * mean * mean


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
