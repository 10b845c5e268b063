"""The JANUS bimetric model (D'Agostini & Petit 2018, Astrophys. Space Sci. 363:139).

In JANUS the positive-mass sector expands like a Friedmann model dominated by
negative mass, with deceleration parameter q0 < 0 and

    H(z) = H0 (1+z) √(1 + 2 q0 z),
    d_L  = (c/H0) [q0 z + (1 − q0)(1 − √(1 + 2 q0 z))] / q0²   (Mattig).

The Mattig form loses every digit to cancellation as q0 → 0; multiplying by the
conjugate gives the equivalent, cancellation-free

    d_L = (c/H0) 2z (1 + s + z) / (1 + s)²,  s = √(1 + 2 q0 z),

which is the Milne law z + z²/2 at q0 = 0. The model exists only where
1 + 2 q0 z > 0, i.e. z < −1/(2 q0), and only for q0 ≤ 0: the same formulas
with q0 > 0 are a Friedmann dust universe without Λ (Ωm = 2 q0), not JANUS,
so a prior reaching above 0 has that part outside the domain.
"""

import numpy as np

from ..jit import njit
from .base import Model


class Janus(Model):
    name = "janus"
    params = ("q0",)
    labels = {"q0": r"$q_0$"}
    default_priors = {"q0": (-0.5, 0.0)}
    reference = "D'Agostini & Petit 2018, Astrophys. Space Sci. 363:139"
    latex_name = "JANUS"

    def domain_bounds(self, z_max):
        return {"q0": (-1.0 / (2.0 * z_max), 0.0)}

    def in_domain(self, theta, z_max):
        # The kernels' own test (not q0 > −1/(2 z_max)), so that no q0 within an
        # ulp of the edge passes it and then takes the square root of a negative.
        return (1.0 + 2.0 * theta[:, 0] * z_max > 0.0) & (theta[:, 0] <= 0.0)

    def redshift_limit(self, theta):
        """z = −1/(2 q0), where 1 + 2 q0 z reaches 0 (no limit for q0 ≥ 0)."""
        q0 = np.asarray(theta, dtype=float)[:, 0]
        with np.errstate(divide="ignore"):
            return np.where(q0 < 0.0, -0.5 / q0, np.inf)

    def E(self, theta, z):
        return _e(theta[:, 0], np.atleast_1d(np.asarray(z, dtype=float)))

    def transverse_distance(self, theta, grid):
        return _transverse_distance(theta[:, 0], grid.z)


@njit(cache=True, error_model="numpy")
def _e(q0, z):
    """E = (1 + z)√(1 + 2 q0 z) for each q0 (rows) and z (columns), in one pass."""
    out = np.empty((q0.size, z.size))
    for b in range(q0.size):
        row, two_q = out[b], 2.0 * q0[b]
        for i in range(z.size):
            row[i] = (1.0 + z[i]) * np.sqrt(1.0 + two_q * z[i])
    return out


@njit(cache=True, error_model="numpy")
def _transverse_distance(q0, z):
    """The cancellation-free Mattig form for each q0 (rows) and z (columns), in one pass."""
    out = np.empty((q0.size, z.size))
    for b in range(q0.size):
        row, two_q = out[b], 2.0 * q0[b]
        for i in range(z.size):
            s = np.sqrt(1.0 + two_q * z[i])
            row[i] = 2.0 * z[i] * (1.0 + s + z[i]) / ((1.0 + s) * (1.0 + s) * (1.0 + z[i]))
    return out


def age(q0: float) -> float:
    """Dimensionless age T0·H0 = ∫_0^{z_max} dz / [(1+z)² √(1 + 2 q0 z)], z_max = −1/(2 q0)."""
    if not q0 < 0:
        raise ValueError("the JANUS age is defined for q0 < 0")
    from scipy.integrate import quad  # here: importing scipy.integrate adds ~0.3 s to every start-up

    z_max = -1.0 / (2.0 * q0)
    value, _ = quad(lambda z: 1.0 / ((1.0 + z) ** 2 * np.sqrt(1.0 + 2.0 * q0 * z)), 0.0, z_max, limit=200)
    return value
