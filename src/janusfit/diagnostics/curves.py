"""Each model's prediction for a dataset's Hubble diagram: best fit and 68 % band, for the report.

For supernovae μ is known up to an additive constant (M and H0), which the
likelihood marginalises; a curve is drawn with the constant that fits the data
best for its own parameters (generalised least squares with the data's
covariance), so curve and data sit on the same scale. The band is the 16–84 %
range, at each redshift, over posterior draws (each with its own constant).
H(z) data need no constant: H0 is a parameter of the run.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import cho_factor, cho_solve

N_DRAWS = 200  # posterior draws behind a band: its 16 and 84 % quantiles to about 3 % of its width
N_GRID = 200


def _offsets(dataset, residuals: np.ndarray) -> np.ndarray:
    """The additive constant that best fits each row of ``residuals`` (data − model μ), with the data's errors."""
    if dataset.cov is not None:
        weights = cho_solve(cho_factor(dataset.cov), np.ones(dataset.n))
    else:
        weights = 1.0 / np.asarray(dataset.sigma, dtype=float) ** 2
    return residuals @ weights / weights.sum()


def _predict(posterior, dataset, theta: np.ndarray, z_grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The model at the data's redshifts and on ``z_grid`` for each row of ``theta`` (full parameter vectors)."""
    model = posterior.model
    tm = theta[:, : len(model.params)]
    if dataset.kind == "hz":
        h0 = theta[:, posterior.param_names.index("H0")]
        return model.hubble(tm, dataset.z, h0), model.hubble(tm, z_grid, h0)
    at_data = model.distance_modulus(tm, dataset.z, dataset.zhel)
    offset = _offsets(dataset, dataset.values[None, :] - at_data)[:, None]
    return at_data + offset, model.distance_modulus(tm, z_grid) + offset


def model_curves(posterior, best_fit: dict, draws: np.ndarray) -> list[dict]:
    """Per dataset of the run: ``{name, kind, z, values, errors, grid, best, lo, hi, best_at_data}``.

    ``best_fit`` maps parameter names to the best-fit values (summary.json's
    ``best_fit``); ``draws`` are posterior draws (n, n_params), of which
    ``N_DRAWS`` evenly spaced ones make the band.
    """
    best = np.array([[best_fit[p] for p in posterior.param_names]], dtype=float)
    draws = np.asarray(draws, dtype=float)
    draws = draws[np.linspace(0, len(draws) - 1, min(N_DRAWS, len(draws))).astype(int)]
    out = []
    for d in posterior.datasets:
        grid = np.geomspace(d.z.min(), d.z.max(), N_GRID)
        best_at_data, best_curve = _predict(posterior, d, best, grid)
        _, curves = _predict(posterior, d, draws, grid)
        lo, hi = np.nanpercentile(curves, [16.0, 84.0], axis=0)
        errors = np.sqrt(np.diag(d.cov)) if d.cov is not None else np.asarray(d.sigma, dtype=float)
        out.append(
            {
                "name": d.name,
                "kind": d.kind,
                "z": d.z,
                "values": d.values,
                "errors": errors,
                "grid": grid,
                "best": best_curve[0],
                "lo": lo,
                "hi": hi,
                "best_at_data": best_at_data[0],
            }
        )
    return out


def redshift_limits(posterior, best_fit: dict, draws: np.ndarray) -> dict | None:
    """Where the model stops existing: at the best fit and the lowest 2.5 % of the draws; None if nowhere."""
    n = len(posterior.model.params)
    best = posterior.model.redshift_limit(np.array([[best_fit[p] for p in posterior.param_names[:n]]]))[0]
    limits = posterior.model.redshift_limit(np.asarray(draws, dtype=float)[:, :n])
    if not np.isfinite(limits).any():
        return None
    return {"best": float(best), "q025": float(np.quantile(limits, 0.025))}
