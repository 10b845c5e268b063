"""A run's parameter estimates: mean, sd, quantiles and one-sided limits, from emcee's draws or dynesty's.

emcee's draws after its burn-in count once each; dynesty's carry importance
weights, whose quantiles are those of the inverted weighted CDF. A summary
says which in ``parameters_from``, and the report, ``overview.csv`` and the
LaTeX table say it with the estimates.
"""

from __future__ import annotations

import numpy as np

from .bounds import describe, edge_bound, weighted_sd

PARAMETERS_FROM = {"emcee": "emcee, after the burn-in", "dynesty": "dynesty's weighted samples"}


def parameters_from(summary: dict) -> str:
    """What a summary's parameter estimates were computed from; emcee for one written before dynesty's could be."""
    return summary.get("parameters_from", PARAMETERS_FROM["emcee"])


def moments(x: np.ndarray, weights: np.ndarray | None = None) -> dict:
    """Mean, sd and the 2.5, 16, 50, 84 and 97.5 % quantiles of one parameter's draws, weighted or not."""
    if weights is None:
        q = np.percentile(x, [2.5, 16, 50, 84, 97.5])
        mean, sd = np.mean(x), np.std(x, ddof=1)
    else:
        q = np.percentile(x, [2.5, 16, 50, 84, 97.5], weights=weights, method="inverted_cdf")
        mean, sd = np.average(x, weights=weights), weighted_sd(x, weights)
    return {
        "mean": float(mean),
        "sd": float(sd),
        "median": float(q[2]),
        "q16": float(q[1]),
        "q84": float(q[3]),
        "q025": float(q[0]),
        "q975": float(q[4]),
    }


def estimates(posterior, draws: np.ndarray, weights: np.ndarray | None = None, n_eff: dict | None = None) -> dict:
    """Per parameter: its moments, its one-sided limit where the posterior meets an edge of the sampled box, and the text.

    ``n_eff`` gives each parameter's effective number of draws (emcee's bulk ESS); by default Kish's of the
    weights, or the number of draws.
    """
    out = {}
    for i, p in enumerate(posterior.param_names):
        x = draws[:, i]
        edge = edge_bound(x, *posterior.sampling_bounds[i], weights=weights, n_eff=(n_eff or {}).get(p))
        stats = {**moments(x, weights), **edge}
        out[p] = {**stats, "text": describe(stats)}
    return out
