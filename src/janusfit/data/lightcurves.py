"""The light-curve columns of a JLA-style release, and the options of their likelihood.

Kept with the data (not the likelihood) so that the loaders and the config
read them without importing the likelihood package; the likelihood is
:mod:`janusfit.likelihood.lightcurve`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

NUISANCE_PARAMS = ("alpha", "beta")
NUISANCE_LABELS = {"alpha": r"$\alpha$", "beta": r"$\beta$"}
DEFAULTS = {
    "pecz": 0.001,
    "host_mass_split": 10.0,
    "log_det_cov": False,
    "nuisance_priors": {"alpha": [0.0, 0.3], "beta": [1.5, 4.5]},
}
# The release's systematic matrices, by config key, in the order of
# janusfit.likelihood.lightcurve.covmat_weights.
COVMAT_KEYS = ("v0", "va", "vb", "v0a", "v0b", "vab")


def options(reading: dict) -> dict:
    """The likelihood's options of a dataset's config entry, defaults filled in."""
    out = {key: reading.get(key, default) for key, default in DEFAULTS.items()}
    out["nuisance_priors"] = {**DEFAULTS["nuisance_priors"], **(reading.get("nuisance_priors") or {})}
    return out


@dataclass(frozen=True, eq=False)
class LightCurves:
    """The light-curve columns of a JLA-style table, one entry per supernova.

    ``host_mass`` is log10 M* of the host (the release's ``3rdvar``);
    ``covmats`` the release's systematic matrices by :data:`COVMAT_KEYS`, or
    None for statistical errors only.
    """

    mb: np.ndarray
    dmb: np.ndarray
    x1: np.ndarray
    dx1: np.ndarray
    color: np.ndarray
    dcolor: np.ndarray
    host_mass: np.ndarray
    cov_m_s: np.ndarray
    cov_m_c: np.ndarray
    cov_s_c: np.ndarray
    covmats: dict[str, np.ndarray] | None = field(default=None)

    def arrays(self) -> dict[str, np.ndarray]:
        """Every array, by name (for checksums)."""
        out = {
            name: getattr(self, name)
            for name in ("mb", "dmb", "x1", "dx1", "color", "dcolor", "host_mass", "cov_m_s", "cov_m_c", "cov_s_c")
        }
        for key, matrix in (self.covmats or {}).items():
            out[f"covmat_{key}"] = matrix
        return out
