"""Flat ΛCDM: E(z)² = Ωm (1+z)³ + 1 − Ωm (radiation neglected at z < 3)."""

import numpy as np

from .base import Model


class FlatLCDM(Model):
    name = "lcdm"
    params = ("Om",)
    labels = {"Om": r"$\Omega_m$"}
    default_priors = {"Om": (0.01, 1.0)}
    reference = "flat ΛCDM"

    def E(self, theta, z):
        om = theta[:, 0:1]
        return np.sqrt(om * (1.0 + z) ** 3 + (1.0 - om))
