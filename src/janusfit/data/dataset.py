"""The in-memory form of a dataset, whatever file format it came from."""

from __future__ import annotations

from dataclasses import dataclass, field

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
    gives it. ``sha256`` maps each source file to its checksum, so a run can be
    tied to the exact bytes it used.
    """

    name: str
    kind: str
    z: np.ndarray
    values: np.ndarray
    cov: np.ndarray | None = None
    sigma: np.ndarray | None = None
    zhel: np.ndarray | None = None
    sha256: dict[str, str] = field(default_factory=dict)

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
