"""A bounded, thinned copy of a growing chain, for the live progress figure.

A figure of a long chain needs about as many steps as it has pixels, not the
whole chain, which lives on disk and may not fit in memory. This keeps every
``thin``-th step, doubling ``thin`` whenever more than ``max_rows`` steps
would be kept, so its size is bounded whatever the chain's length. Which steps
are kept depends only on the iteration count, so a run resumed from a
checkpoint rebuilds the same copy.

It is for display only: thinning by k hides every correlation shorter than k
steps, so the stopping rule's τ comes from :mod:`.autocorr`, never from here.
The copy is one buffer of ``max_rows`` rows in single precision, thinned in
place: no concatenation and no second copy.
"""

from __future__ import annotations

import numpy as np

# Rows moved per slice when thinning in place: numpy copies an overlapping
# source through a temporary, which this keeps small.
COMPACT_ROWS = 512


class ThinnedChain:
    def __init__(self, max_rows: int):
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
        self._buf[self._n : self._n + len(new)] = new
        self._n += len(new)

    def _keep_every(self, factor: int) -> None:
        """Thin the kept rows by ``factor``, in place.

        Row p holds step (p + 1)·thin − 1, so the steps whose number + 1 is a
        multiple of the new thin are rows factor − 1, 2·factor − 1, ...
        """
        m = self._n // factor
        for j in range(0, m, COMPACT_ROWS):
            k = min(m, j + COMPACT_ROWS)
            self._buf[j:k] = self._buf[(j + 1) * factor - 1 : k * factor : factor]
        self._n = m
        self.thin *= factor

    def array(self) -> np.ndarray:
        """The kept rows (a view, single precision)."""
        return self._buf[: self._n] if self._buf is not None else np.empty((0, 0, 0), dtype=np.float32)
