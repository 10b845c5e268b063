"""A bounded, thinned copy of a growing chain, for the stopping rule.

The autocorrelation time must be re-estimated while the chain grows, but the
chain lives on disk and may not fit in memory. This keeps every ``thin``-th
step, doubling ``thin`` whenever more than ``max_rows`` steps would be kept, so
its size is bounded whatever the chain's length. Which steps are kept depends
only on the iteration count, so a run resumed from a checkpoint rebuilds the
same copy and takes the same stopping decision as an uninterrupted one.
"""

from __future__ import annotations

import numpy as np
from emcee.autocorr import integrated_time


class ThinnedChain:
    def __init__(self, max_rows: int = 20000):
        self.max_rows = max_rows
        self.thin = 1
        self.n_steps = 0
        self._rows: list[np.ndarray] = []

    def append(self, chain: np.ndarray) -> None:
        """Add consecutive steps, shape (n_new, n_walkers, n_params)."""
        first = self.n_steps
        self.n_steps += len(chain)
        index = np.arange(first, self.n_steps)
        self._rows.append(chain[(index + 1) % self.thin == 0])
        while self.n_steps // self.thin > self.max_rows:
            self.thin *= 2
            kept = np.concatenate(self._rows)
            # Kept rows are steps i with (i + 1) % old_thin == 0, in order; the
            # ones to keep now are every second of them.
            self._rows = [kept[1::2]]

    def array(self) -> np.ndarray:
        return np.concatenate(self._rows) if self._rows else np.empty((0, 0, 0))

    def tau(self) -> np.ndarray:
        """Integrated autocorrelation time per parameter, in steps of the full chain."""
        return integrated_time(self.array(), tol=0, quiet=True) * self.thin
