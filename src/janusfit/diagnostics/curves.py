"""Each model's prediction for a dataset's Hubble diagram: best fit and 68 % band, for the report.

For supernovae μ is known up to an additive constant (M and H0), which the
likelihood marginalises; a curve is drawn with the constant that fits the data
best for its own parameters (generalised least squares with the data's
covariance), so curve and data sit on the same scale. Light curves are drawn
as the distance moduli they give at the best fit's α and β, with the
covariance at those values. The band is the 16–84 %
range, at each redshift, over posterior draws (each with its own constant).
H(z) data need no constant: H0 is a parameter of the run.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import cho_factor, cho_solve

N_DRAWS = 200  # posterior draws behind a band: its 16 and 84 % quantiles to about 3 % of its width
N_GRID = 200


def standardised(like, mu_model: np.ndarray, alpha: float, beta: float) -> tuple[np.ndarray, np.ndarray]:
    """Light curves' distance moduli (up to a constant) at (α, β), and the covariance C(α, β) they are fitted with.

    μ = m_B + α x1 − β c, each host-mass group's magnitude brought to the
    first group's: the offsets are the generalised least squares fit of
    μ − ``mu_model`` (the model's μ at the data), as the likelihood fits them.
    Raw m_B would scatter by the stretch and colour corrections: 0.29 mag on
    JLA against 0.17 standardised. Here and not in the likelihood's module,
    whose code is in every sampler's fingerprint.
    """
    lc = like.dataset.light_curves
    cov = like.covariance(alpha, beta)
    mu = (
        np.asarray(lc.mb, dtype=float)
        + alpha * np.asarray(lc.x1, dtype=float)
        - beta * np.asarray(lc.color, dtype=float)
    )
    x = np.eye(like.n_groups)[like.groups]
    c_inv_x = cho_solve(cho_factor(cov), x)
    offsets = np.linalg.solve(x.T @ c_inv_x, c_inv_x.T @ (mu - mu_model))
    return mu - x @ (offsets - offsets[0]), cov


def _points(posterior, dataset, best: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The data's values, their diagonal errors, and C⁻¹1 (the weights of a fitted constant) for the plot.

    Light curves are standardised at the best fit's α and β
    (:func:`standardised`); other data are as read.
    """
    like = next((like for like in posterior.sn if like.dataset is dataset), None)
    if like is not None and like.nuisance:
        alpha, beta = best[0, [posterior.param_names.index(name) for name in like.nuisance]]
        mu_model = posterior.model.distance_modulus(best[:, : len(posterior.model.params)], dataset.z, dataset.zhel)
        values, cov = standardised(like, mu_model[0], alpha, beta)
    else:
        values, cov = np.asarray(dataset.values, dtype=float), dataset.cov
    if cov is not None:
        return values, np.sqrt(np.diag(cov)), cho_solve(cho_factor(cov), np.ones(dataset.n))
    sigma = np.asarray(dataset.sigma, dtype=float)
    return values, sigma, 1.0 / sigma**2


def _predict(posterior, dataset, theta: np.ndarray, z_grid: np.ndarray, points) -> tuple[np.ndarray, np.ndarray]:
    """The model at the data's redshifts and on ``z_grid`` for each row of ``theta`` (full parameter vectors).

    A supernova curve carries the constant that best fits ``points`` (``_points``) for its own parameters.
    """
    model = posterior.model
    tm = theta[:, : len(model.params)]
    if dataset.kind == "hz":
        h0 = theta[:, posterior.param_names.index("H0")]
        return model.hubble(tm, dataset.z, h0), model.hubble(tm, z_grid, h0)
    values, _, weights = points
    at_data = model.distance_modulus(tm, dataset.z, dataset.zhel)
    offset = ((values[None, :] - at_data) @ weights / weights.sum())[:, None]
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
        points = _points(posterior, d, best)
        best_at_data, best_curve = _predict(posterior, d, best, grid, points)
        _, curves = _predict(posterior, d, draws, grid, points)
        lo, hi = np.nanpercentile(curves, [16.0, 84.0], axis=0)
        out.append(
            {
                "name": d.name,
                "kind": d.kind,
                "z": d.z,
                "values": points[0],
                "errors": points[1],
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
