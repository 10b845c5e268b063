"""Flat ΛCDM: E(z)² = Ωm (1+z)³ + 1 − Ωm (radiation neglected at z < 3)."""

import numpy as np

from ..jit import njit
from .base import Model


class FlatLCDM(Model):
    name = "lcdm"
    params = ("Om",)
    labels = {"Om": r"$\Omega_m$"}
    default_priors = {"Om": (0.01, 1.0)}
    reference = "flat ΛCDM"
    latex_name = r"flat $\Lambda$CDM"

    def E(self, theta, z):
        return _e(theta[:, 0], np.atleast_1d(np.asarray(z, dtype=float)), False)

    def inverse_E(self, theta, z):
        return _e(theta[:, 0], np.atleast_1d(np.asarray(z, dtype=float)), True)


@njit(cache=True, error_model="numpy")
def _e(om, z, inverse):
    """E (or 1/E) for each Ωm (rows) and z (columns) in one vectorised pass, with no temporaries."""
    out = np.empty((om.size, z.size))
    for b in range(om.size):
        row, m, lam = out[b], om[b], 1.0 - om[b]
        for i in range(z.size):
            zp1 = 1.0 + z[i]
            e = np.sqrt(m * (zp1 * zp1 * zp1) + lam)
            row[i] = 1.0 / e if inverse else e
    return out
