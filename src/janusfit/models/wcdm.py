"""Flat wCDM: dark energy with a constant equation of state w."""

import numpy as np

from .base import Model


class FlatWCDM(Model):
    name = "wcdm"
    params = ("Om", "w")
    labels = {"Om": r"$\Omega_m$", "w": r"$w$"}
    default_priors = {"Om": (0.01, 1.0), "w": (-2.5, 0.0)}
    reference = "flat wCDM"
    latex_name = r"flat $w$CDM"

    def E(self, theta, z):
        om, w = theta[:, 0:1], theta[:, 1:2]
        zp1 = 1.0 + z
        return np.sqrt(om * zp1**3 + (1.0 - om) * zp1 ** (3.0 * (1.0 + w)))
