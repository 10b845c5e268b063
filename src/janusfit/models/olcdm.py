"""ΛCDM with curvature: E(z)² = Ωm (1+z)³ + Ωk (1+z)² + ΩΛ, Ωk = 1 − Ωm − ΩΛ.

The default priors keep every universe with a big bang and in view of the
data: with 0 ≤ ΩΛ ≤ 1, E² ≥ (1+z)² − ΩΛ((1+z)² − 1) ≥ 1, and Ωk ≥ −1 keeps
a closed universe's distances short of its antipode at z < 10. Wider ΩΛ
reaches universes that bounce (E² < 0), whose likelihood is NaN.
"""

import numpy as np

from .curvature import CurvedModel


class CurvedLCDM(CurvedModel):
    name = "olcdm"
    params = ("Om", "Ol")
    labels = {"Om": r"$\Omega_m$", "Ol": r"$\Omega_\Lambda$"}
    default_priors = {"Om": (0.01, 1.0), "Ol": (0.0, 1.0)}
    reference = "ΛCDM with curvature"
    latex_name = r"$\Lambda$CDM with $\Omega_k$"

    def omega_k(self, theta):
        return 1.0 - theta[:, 0] - theta[:, 1]

    def E(self, theta, z):
        om, ol = theta[:, 0:1], theta[:, 1:2]
        zp1 = 1.0 + z
        return np.sqrt(om * zp1**3 + (1.0 - om - ol) * zp1**2 + ol)
