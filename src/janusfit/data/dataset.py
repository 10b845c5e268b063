"""The in-memory form of a dataset, whatever file format it came from."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

KINDS = ("sn", "hz")


@dataclass(frozen=True, eq=False)
class Dataset:
    """Observations of one kind with their errors.

    ``kind`` is ``"sn"`` (``values`` are distance moduli or corrected
    magnitudes, defined up to a constant) or ``"hz"`` (``values`` are H(z) in
    km/s/Mpc). Errors are either a full covariance ``cov`` or diagonal
    ``sigma``; exactly one of the two is set. ``zhel`` is the heliocentric
    redshift of the (1 + z) factor of the luminosity distance, when the release
    gives it, and ``names`` the supernovae's names. ``files`` maps the config
    key of each file read (``path``, ``cov``) to its path and ``sha256`` to its
    checksum; ``reading`` holds the options it was read with (format, kind,
    columns, ...). Together with :attr:`arrays_sha256` they tie a run to the
    exact numbers it used. ``cov_asymmetry`` is the largest |C_ij − C_ji| of
    the covariance file before it was symmetrised, and ``n_read`` the number
    of rows read before a release's cut (the size of its covariance file).
    ``light_curves`` holds the SALT2 columns of a light-curve release (then
    ``values`` are its m_B and ``sigma`` its dm_B), whose likelihood
    standardises them itself.
    """

    name: str
    kind: str
    z: np.ndarray
    values: np.ndarray
    cov: np.ndarray | None = None
    sigma: np.ndarray | None = None
    zhel: np.ndarray | None = None
    sha256: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    reading: dict = field(default_factory=dict)
    names: np.ndarray | None = None
    cov_asymmetry: float | None = None
    n_read: int | None = None
    light_curves: object | None = None  # janusfit.data.lightcurves.LightCurves, for format jla_lcparams

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"dataset '{self.name}': kind must be one of {KINDS}, not '{self.kind}'")
        if (self.cov is None) == (self.sigma is None):
            raise ValueError(f"dataset '{self.name}': give exactly one of cov and sigma")

    @property
    def n(self) -> int:
        return int(self.z.size)

    @property
    def has_full_cov(self) -> bool:
        return self.cov is not None

    @cached_property
    def arrays_sha256(self) -> str:
        """sha256 of the numbers the likelihood uses (kind, z, values, errors, zhel, light curves), as float64."""
        digest = hashlib.sha256(self.kind.encode())
        light_curves = self.light_curves.arrays().items() if self.light_curves is not None else ()
        for label, array in (
            ("z", self.z),
            ("values", self.values),
            ("cov", self.cov),
            ("sigma", self.sigma),
            ("zhel", self.zhel),
            *light_curves,
        ):
            if array is not None:
                a = np.ascontiguousarray(array, dtype=np.float64)
                digest.update(f"{label}{a.shape}".encode())
                digest.update(a.tobytes())
        return digest.hexdigest()
