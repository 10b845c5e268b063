"""One-sided limits for a parameter whose posterior is piled against an edge of its prior.

Such a posterior is cut by the edge, and its mean ± sd describes the edge
rather than the data: on Union3, JANUS's q0 = −0.0079 ± 0.0070 sits against the
prior's wall q0 = 0, while without the wall the peak would be at q0 ≈ +0.035.
It is reported as a one-sided 95 % credible limit instead.

The rule: in bins of width h = sd/5, the bin touching the edge holds at least
``EDGE_RATIO`` (0.2) of the draws of the fullest bin, i.e. the posterior
density at the edge is at least a fifth of its peak. A Gaussian posterior
meets this when its mode is within 1.8 σ of the edge; JLA's JANUS posterior
(mean 2.4 sd from q0 = 0, density ratio about 0.1 there) does not.

The edges are those of the box that was sampled: the prior, cut to the model's
domain where it has one. ``bound`` names the edge: "upper" for a posterior
piled against the upper edge, whose limit is then a lower limit
(parameter > limit at 95 %), and "lower" for the lower edge (parameter < limit).
"""

from __future__ import annotations

import math

import numpy as np

BIN_SD_FRACTION = 0.2
EDGE_RATIO = 0.2
CREDIBILITY = 0.95


def edge_bound(draws: np.ndarray, lo: float, hi: float) -> dict:
    """{bound: "upper"|"lower"|None, edge, limit, credibility, edge_density_ratio} of one parameter's draws."""
    draws = np.asarray(draws, dtype=float)
    h = BIN_SD_FRACTION * float(np.std(draws))
    none = {"bound": None, "edge": None, "limit": None, "credibility": CREDIBILITY, "edge_density_ratio": 0.0}
    if not h > 0:
        return none
    first = math.floor((draws.min() - lo) / h)
    edges = lo + h * np.arange(first, math.ceil((draws.max() - lo) / h) + 1)
    fullest = np.histogram(draws, bins=edges)[0].max() if len(edges) > 1 else len(draws)
    ratios = {"lower": np.count_nonzero(draws < lo + h) / fullest, "upper": np.count_nonzero(draws > hi - h) / fullest}
    side = max(ratios, key=ratios.get)
    if ratios[side] < EDGE_RATIO:
        return {**none, "edge_density_ratio": float(ratios[side])}
    quantile = 1.0 - CREDIBILITY if side == "upper" else CREDIBILITY
    return {
        "bound": side,
        "edge": float(hi if side == "upper" else lo),
        "limit": float(np.quantile(draws, quantile)),
        "credibility": CREDIBILITY,
        "edge_density_ratio": float(ratios[side]),
    }


def describe(stats: dict) -> str:
    """'0.2970 ± 0.0338', or '> -0.0217 (95 % limit; posterior piled against the upper prior edge 0)'."""
    if stats.get("bound") is None:
        return f"{stats['mean']:.4f} ± {stats['sd']:.4f}"
    sign = ">" if stats["bound"] == "upper" else "<"
    return (
        f"{sign} {stats['limit']:.4f} ({100 * stats['credibility']:g} % limit; posterior piled against "
        f"the {stats['bound']} prior edge {stats['edge']:g})"
    )
