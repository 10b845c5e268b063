"""A simulated Pantheon-like Hubble diagram with a known truth, for end-to-end checks.

The sample mixes four kinds of survey, as real compilations do: low-z
(0.01–0.1), SDSS-like (0.05–0.4), SNLS/DES-like (0.2–1.0) and a few HST SNe up
to z ≈ 1.8. Each SN has a statistical error (measurement, growing mildly with z,
plus intrinsic scatter and peculiar velocities), and the sample shares
systematic errors: a calibration offset per survey and a smooth mode linear in
z. The magnitudes are the fiducial flat ΛCDM ones plus noise drawn from that
full covariance, so a fit that uses the covariance must recover the truth
within its error bars. Everything follows from the seed: the same seed gives
the same bytes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..atomic import atomic_write_bytes, atomic_write_json
from ..models import get_model

if TYPE_CHECKING:
    import pandas as pd

C_KM_S = 299792.458
DEFAULT_SEED = 20231121
# A simulated dataset's options where its config entry leaves them out.
DEFAULTS = {"n_sn": 300, "seed": DEFAULT_SEED}
TRUTH_MODEL = "lcdm"  # the cosmology the supernovae are simulated from


@dataclass(frozen=True)
class Survey:
    """A survey's share of the sample, its redshift range and calibration error (mag)."""

    name: str
    share: float
    z_min: float
    z_max: float
    calibration: float


SURVEYS = (
    Survey("LOWZ", 0.25, 0.01, 0.10, 0.010),
    Survey("SDSS", 0.30, 0.05, 0.40, 0.010),
    Survey("SNLS_DES", 0.38, 0.20, 1.00, 0.010),
    Survey("HST", 0.07, 0.60, 1.80, 0.015),
)

SIGMA_INT = 0.10  # intrinsic scatter of standardised SNe Ia (mag)
V_PEC = 250.0  # peculiar-velocity dispersion (km/s)
SIGMA_Z_MODE = 0.02  # amplitude (mag per unit z) of the redshift-dependent systematic


def fiducial_magnitude(z, om: float = 0.3, H0: float = 70.0, M: float = -19.3) -> np.ndarray:
    """m_B = μ + M of flat ΛCDM, with μ = 5 log10(d_L / Mpc) + 25 and d_L = (1+z) D_M."""
    z = np.asarray(z, dtype=float)
    mu_h = get_model(TRUTH_MODEL).distance_modulus(np.array([[om]]), z)[0]
    return mu_h + 5.0 * np.log10(C_KM_S / H0) + 25.0 + M


def simulate_hubble_diagram(
    n_sn: int = DEFAULTS["n_sn"], seed: int = DEFAULTS["seed"], om: float = 0.3, H0: float = 70.0, M: float = -19.3
) -> tuple[pd.DataFrame, np.ndarray, dict]:
    """(table, covariance, truth) of a simulated sample of ``n_sn`` supernovae.

    The table, sorted by redshift, has columns ``z``, ``mb`` (apparent
    magnitude, μ + M), ``sigma`` (√diag of the covariance, for plots) and
    ``survey``. Redshifts are rounded to the 6 decimals the CSV keeps, so the
    file and the magnitudes drawn here describe the same SNe.
    """
    import pandas as pd  # here: every job imports this package, only simulating builds a table with pandas

    if n_sn < len(SURVEYS):
        raise ValueError(f"n_sn must be at least {len(SURVEYS)} (one SN per survey), got {n_sn}")
    rng = np.random.default_rng(seed)
    survey = np.repeat(np.arange(len(SURVEYS)), _survey_counts(n_sn))
    z = np.round(_draw_redshifts(rng, survey), 6)
    order = np.argsort(z, kind="stable")
    z, survey = z[order], survey[order]
    cov = covariance(z, survey)
    noise = np.linalg.cholesky(cov) @ rng.standard_normal(n_sn)
    table = pd.DataFrame(
        {
            "z": z,
            "mb": fiducial_magnitude(z, om, H0, M) + noise,
            "sigma": np.sqrt(np.diag(cov)),
            "survey": [SURVEYS[s].name for s in survey],
        }
    )
    truth = {"model": TRUTH_MODEL, "Om": om, "H0": H0, "M": M, "seed": seed, "n_sn": n_sn}
    return table, cov, truth


def _survey_counts(n_sn: int) -> np.ndarray:
    """SNe per survey: each survey's share rounded down (at least one), the rest to the largest."""
    counts = np.array([max(1, int(s.share * n_sn)) for s in SURVEYS])
    counts[np.argmax([s.share for s in SURVEYS])] += n_sn - counts.sum()
    return counts


def _draw_redshifts(rng: np.random.Generator, survey: np.ndarray) -> np.ndarray:
    """Redshifts peaked inside each survey's range, as a magnitude limit makes them."""
    lo = np.array([SURVEYS[s].z_min for s in survey])
    hi = np.array([SURVEYS[s].z_max for s in survey])
    return lo + (hi - lo) * rng.beta(2.0, 2.0, size=survey.size)


def statistical_error(z: np.ndarray) -> np.ndarray:
    """Per-SN error (mag): measurement 0.08 + 0.05 z, intrinsic scatter, peculiar velocity."""
    measurement = 0.08 + 0.05 * z
    pec = 5.0 / np.log(10.0) * V_PEC / (C_KM_S * z)
    return np.sqrt(measurement**2 + SIGMA_INT**2 + pec**2)


def covariance(z: np.ndarray, survey: np.ndarray) -> np.ndarray:
    """diag(σ_stat²) plus the systematic modes; positive definite by construction.

    Each systematic is a rank-one term σ² v vᵀ (positive semi-definite) added to
    a diagonal with positive entries, so the sum is positive definite.
    """
    cov = np.diag(statistical_error(z) ** 2)
    for index, s in enumerate(SURVEYS):
        member = (survey == index).astype(float)
        cov += s.calibration**2 * np.outer(member, member)
    cov += SIGMA_Z_MODE**2 * np.outer(z, z)
    return cov


def write_simulated(out_csv, out_cov, out_truth_json, **kw) -> dict:
    """Simulate (``kw`` as :func:`simulate_hubble_diagram`) and write the three files; returns the truth.

    ``out_csv``: comma-separated, header ``z,mb,sigma,survey``. ``out_cov``: the
    release layout, N on the first line then the N*N values row-major, one per
    line. ``out_truth_json``: the true parameters and seed. Each file is written
    atomically.
    """
    table, cov, truth = simulate_hubble_diagram(**kw)
    csv = table.to_csv(index=False, float_format="%.6f", lineterminator="\n")
    atomic_write_bytes(out_csv, csv.encode())
    atomic_write_bytes(out_cov, _covariance_text(cov).encode())
    atomic_write_json(out_truth_json, truth)
    return truth


def _covariance_text(cov: np.ndarray) -> str:
    buffer = io.StringIO()
    buffer.write(f"{cov.shape[0]}\n")
    np.savetxt(buffer, cov.reshape(-1, 1), fmt="%.12e")
    return buffer.getvalue()
