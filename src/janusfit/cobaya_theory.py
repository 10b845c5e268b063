"""janusfit's cosmologies as Cobaya theories, so Cobaya's own likelihoods run on JANUS.

Cobaya (``pip install "janusfit[cobaya]"``) asks a theory for background
quantities at the redshifts its likelihoods need; the classes here compute
them from the same model code janusfit samples, with H0 in km/s/Mpc:

- ``angular_diameter_distance`` D_A = D_M / (1 + z) [Mpc] (what the supernova
  likelihoods ``sn.union3``, ``sn.pantheonplus``, ``sn.desy5``, ``sn.jla``
  request),
- ``luminosity_distance`` D_L = (1 + z) D_M [Mpc],
- ``Hubble`` H(z) in km/s/Mpc (or 1/Mpc with ``units="1/Mpc"``),

where D_M is the model's transverse comoving distance (c/H0)·D_M H0/c. In a
Cobaya input::

    theory:
      janusfit.cobaya_theory.Janus: null      # or janusfit.cobaya_theory.LCDM
    likelihood:
      sn.union3: null
    params:
      q0: {prior: {min: -0.5, max: 0.0}}
      H0: 70                                   # cancels in the SN likelihoods

Where JANUS does not exist (1 + 2 q0 z ≤ 0 at a requested redshift, or q0 > 0)
``calculate`` returns False, which Cobaya takes as a zero likelihood, as
janusfit's samplers do. Only background distances are provided: JANUS has no
sound horizon or growth history, so BAO, CMB and RSD likelihoods cannot run
on it.
"""

from __future__ import annotations

import numpy as np
from cobaya.theory import Theory

from .data.simulate import C_KM_S
from .models import RedshiftGrid, get_model

PRODUCTS = ("angular_diameter_distance", "luminosity_distance", "Hubble")
H_UNITS = {"km/s/Mpc": 1.0, "1/Mpc": 1.0 / C_KM_S}


class JanusfitTheory(Theory):
    """A janusfit model (option ``model``, a registered name) as a Cobaya theory."""

    model: str = "janus"

    def initialize(self):
        self._model = get_model(self.model)
        self._z = {name: np.empty(0) for name in PRODUCTS}
        self._grids: dict[bytes, RedshiftGrid] = {}

    def get_can_support_params(self):
        return [*self._model.params, "H0"]

    def get_can_provide(self):
        return []

    def must_provide(self, **requirements):
        super().must_provide(**requirements)
        for name, options in requirements.items():
            if name in PRODUCTS:
                z = np.atleast_1d(np.asarray((options or {}).get("z", []), dtype=float))
                self._z[name] = np.union1d(self._z[name], z)
        return None

    def calculate(self, state, want_derived=True, **params_values_dict):
        theta = np.array([[params_values_dict[p] for p in self._model.params]], dtype=float)
        h0 = float(params_values_dict["H0"])
        requested = np.concatenate(list(self._z.values()))
        if requested.size and not self._model.in_domain(theta, float(requested.max()))[0]:
            return False
        state["theta"], state["H0"] = theta, h0
        for name, z in self._z.items():
            state[name] = (z, self._compute(name, theta, h0, z)) if z.size else None
        return True

    def _transverse_mpc(self, theta, h0, z) -> np.ndarray:
        positive = z > 0
        out = np.zeros_like(z)
        if positive.any():
            zp = z[positive]
            key = zp.tobytes()
            grid = self._grids.get(key)
            if grid is None:
                grid = self._grids[key] = RedshiftGrid(zp)
            out[positive] = self._model.transverse_distance(theta, grid)[0] * C_KM_S / h0
        return out

    def _compute(self, name, theta, h0, z) -> np.ndarray:
        if name == "Hubble":
            return h0 * self._model.E(theta, z)[0]
        d_m = self._transverse_mpc(theta, h0, z)
        return d_m / (1.0 + z) if name == "angular_diameter_distance" else d_m * (1.0 + z)

    def _get(self, name, z) -> np.ndarray:
        z = np.asarray(z, dtype=float)
        state = self.current_state
        stored = state.get(name)
        flat = np.atleast_1d(z).ravel()
        if stored is not None:
            grid_z, values = stored
            at = np.clip(np.searchsorted(grid_z, flat), 0, grid_z.size - 1)
            if np.array_equal(grid_z[at], flat):
                return values[at].reshape(z.shape)
        # A redshift that was not requested in advance: computed on demand.
        return self._compute(name, state["theta"], state["H0"], flat).reshape(z.shape)

    def get_angular_diameter_distance(self, z):
        """D_A(z) in Mpc."""
        return self._get("angular_diameter_distance", z)

    def get_luminosity_distance(self, z):
        """D_L(z) in Mpc."""
        return self._get("luminosity_distance", z)

    def get_Hubble(self, z, units="km/s/Mpc"):
        """H(z) in km/s/Mpc, or in 1/Mpc (H/c) with ``units="1/Mpc"``."""
        if units not in H_UNITS:
            raise ValueError(f"units for H(z) must be one of {', '.join(H_UNITS)}, not {units!r}")
        return self._get("Hubble", z) * H_UNITS[units]


class Janus(JanusfitTheory):
    """JANUS (D'Agostini & Petit 2018): parameters q0 and H0."""

    model: str = "janus"


class LCDM(JanusfitTheory):
    """janusfit's flat ΛCDM (radiation neglected): parameters Om and H0."""

    model: str = "lcdm"
