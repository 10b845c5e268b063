"""Spatial curvature: the transverse distance of a universe that is not flat.

In units of c/H0, with D_C = ∫₀^z dz'/E the comoving distance and Ωk the
curvature density today, the transverse comoving distance is (Hogg 1999,
astro-ph/9905116, eq. 16)

    D_M = sinh(√Ωk D_C) / √Ωk      (Ωk > 0, open)
          D_C                      (Ωk = 0, flat)
          sin(√−Ωk D_C) / √−Ωk     (Ωk < 0, closed).

:class:`Model` integrates 1/E alone, which is D_M of a flat universe only: a
model with curvature subclasses :class:`CurvedModel` and defines
:meth:`~CurvedModel.omega_k`. Its E must hold the curvature term itself,
Ωk (1 + z)²: E alone cannot tell curvature from another component that
dilutes as (1 + z)², which is why the model says its Ωk.
"""

from __future__ import annotations

import numpy as np

from .base import Model
from .quadrature import RedshiftGrid


class CurvedModel(Model):
    """A model whose Ωk need not be zero."""

    def omega_k(self, theta: np.ndarray) -> np.ndarray:
        """Ωk of each parameter vector (rows of ``theta``)."""
        raise NotImplementedError

    def transverse_distance(self, theta: np.ndarray, grid: RedshiftGrid) -> np.ndarray:
        return bend(grid.integrate(self.inverse_E(theta, grid.nodes)), self.omega_k(theta))


def bend(comoving: np.ndarray, omega_k: np.ndarray) -> np.ndarray:
    """D_M from D_C (rows: parameter vectors) and each row's Ωk; NaN where Ωk is NaN."""
    k = np.asarray(omega_k, dtype=float)
    if k.shape != comoving.shape[:1]:
        raise ValueError(f"omega_k must give one value per parameter vector, shape {comoving.shape[:1]}, got {k.shape}")
    k = k[:, None]
    root = np.sqrt(np.abs(k))
    with np.errstate(invalid="ignore", divide="ignore"):
        open_, closed = np.sinh(root * comoving) / root, np.sin(root * comoving) / root
        return np.where(k > 0, open_, np.where(k < 0, closed, np.where(k == 0, comoving, np.nan)))
