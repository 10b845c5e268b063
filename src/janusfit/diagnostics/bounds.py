"""One-sided limits for a parameter whose posterior is cut by an edge of its prior.

Such a posterior's mean ± sd describes the edge rather than the data: on
Union3, JANUS's q0 = −0.0079 ± 0.0070 sits against the prior's wall q0 = 0,
while without the wall the peak would be at q0 ≈ +0.035.

The rule is GetDist's (``Density1D.getLimits``), level by level: a credible
interval at credibility c is one-sided when the prior edge lies inside the
highest-density region holding c of the posterior, i.e. when the density at
the edge is at least the density that bounds that region. Densities are
counted in bins of width sd/5 aligned on the edge: the edge's is extrapolated
from the two bins beside it, the region's level is the count of the fullest
bins at which they hold c of the draws.

- ``bound`` names the edge inside the 95 % region: "upper" when the posterior
  is cut by the upper edge, whose 95 % ``limit`` is then a lower limit
  (parameter > limit), "lower" for the lower edge (parameter < limit).
- ``bound`` is "both" when the 95 % region reaches both edges: there is no
  95 % limit within the prior (GetDist's limit type "none"), ``limit`` and
  ``edge`` are null. With ``piled`` (the 68 % region reaches an edge too) the
  data do not constrain the parameter within its prior; a flat posterior
  is the extreme case, once reported as a one-sided limit at the prior's
  own 5 % or 95 % quantile. A region holding 95 % reaches both edges only
  through such a tie (a flat posterior, or a peak over a flat floor), where
  each edge's density is at the region's level give or take the draws'
  scatter: both count as inside unless one is :data:`SCATTER_SIGMAS`
  standard errors below it.
- ``piled`` is true when the 68 % region reaches the edge too: the posterior
  is piled against it and only the one-sided 95 % limit describes it. When it
  is false, the median with its 68 % interval stands, and the 95 % interval
  is the one-sided limit. A Gaussian cut at d σ from its mode is piled for
  d < 0.70 and has a one-sided 95 % limit for d < 1.67; JLA and the cosmic
  chronometers under JANUS (mode 2 σ inside q0 = 0, density there 0.28 of
  the peak) are the second case: q0 = −0.042 ± 0.022, q0 > −0.079 at 95 %.

The edges are those of the box that was sampled: the prior, cut to the model's
domain where it has one. Draws may carry weights (dynesty's importance
weights): bins then hold weight rather than draws, and the limit is the
weighted quantile.
"""

from __future__ import annotations

import math

import numpy as np

BIN_SD_FRACTION = 0.2
CREDIBILITY = 0.95
PILED_CREDIBILITY = 0.68
BOTH = "both"
# A region holding 95 % that reaches both edges does so through a tie: the posterior is flat there, its
# density at the region's level give or take the draws' scatter. Both edges count as inside the region
# unless one is this many standard errors below its level.
SCATTER_SIGMAS = 2.0


def edge_bound(draws: np.ndarray, lo: float, hi: float, weights: np.ndarray | None = None) -> dict:
    """{bound: "upper"|"lower"|None, piled, edge, limit, credibility, edge_density_ratio} of one parameter's draws.

    ``edge_density_ratio`` is the density at the edge where the posterior is fuller, over its peak density.
    ``weights`` (one per draw, any normalisation) weigh the draws; None counts each once.
    """
    draws = np.asarray(draws, dtype=float)
    weighted = weights is not None
    weights = np.asarray(weights, dtype=float) if weighted else np.ones_like(draws)
    h = BIN_SD_FRACTION * (weighted_sd(draws, weights) if weighted else float(np.std(draws)))
    none = {
        "bound": None,
        "piled": False,
        "edge": None,
        "limit": None,
        "credibility": CREDIBILITY,
        "edge_density_ratio": 0.0,
    }
    if not h > 0:
        return none
    first = math.floor((draws.min() - lo) / h)
    edges = lo + h * np.arange(first, math.ceil((draws.max() - lo) / h) + 1)
    counts = np.histogram(draws, bins=edges, weights=weights)[0] if len(edges) > 1 else np.array([weights.sum()])
    fullest = counts.max()
    densities = {"lower": _edge_density(draws - lo, h, weights), "upper": _edge_density(hi - draws, h, weights)}
    level = _region_level(counts, CREDIBILITY) * fullest
    reach = {side: d + SCATTER_SIGMAS * math.sqrt(v) for side, (d, v) in densities.items()}
    side = max(densities, key=lambda s: densities[s][0])
    ratio = float(densities[side][0] / fullest)
    if min(reach.values()) >= level:
        return {
            **none,
            "bound": BOTH,
            "piled": bool(max(reach.values()) >= _region_level(counts, PILED_CREDIBILITY) * fullest),
            "edge_density_ratio": ratio,
        }
    if densities[side][0] < level:
        return {**none, "edge_density_ratio": ratio}
    quantile = 1.0 - CREDIBILITY if side == "upper" else CREDIBILITY
    return {
        "bound": side,
        "piled": bool(ratio >= _region_level(counts, PILED_CREDIBILITY)),
        "edge": float(hi if side == "upper" else lo),
        "limit": float(
            np.quantile(draws, quantile, weights=weights, method="inverted_cdf")
            if weighted
            else np.quantile(draws, quantile)
        ),
        "credibility": CREDIBILITY,
        "edge_density_ratio": ratio,
    }


def _edge_density(inside: np.ndarray, h: float, weights: np.ndarray) -> tuple[float, float]:
    """The weight a bin would hold at an edge, from the two bins beside it (centred h/2 and 3h/2 ``inside`` it),
    and the variance of that estimate from the draws' own scatter.

    The bin touching the edge alone gives the density h/2 inside, which for a
    posterior rising towards the edge calls it piled at 0.8 σ rather than 0.70.
    """
    near, next_ = inside < h, (inside >= h) & (inside < 2 * h)
    first, second = weights[near].sum(), weights[next_].sum()
    variance = 2.25 * np.sum(weights[near] ** 2) + 0.25 * np.sum(weights[next_] ** 2)
    return max(0.0, 1.5 * first - 0.5 * second), float(variance)


def weighted_sd(draws: np.ndarray, weights: np.ndarray) -> float:
    """The standard deviation of weighted draws (the weights' normalisation does not matter)."""
    mean = np.average(draws, weights=weights)
    return math.sqrt(np.average((draws - mean) ** 2, weights=weights))


def _region_level(counts: np.ndarray, credibility: float) -> float:
    """The density, over the peak's, that bounds the highest-density region holding ``credibility`` of the draws."""
    fullest_first = np.sort(counts)[::-1]
    held = np.cumsum(fullest_first) / fullest_first.sum()
    return float(fullest_first[np.searchsorted(held, credibility)] / fullest_first[0])


NO_LIMIT = "its 95 % region reaches both prior edges"


def one_sided_only(stats: dict) -> bool:
    """Whether a parameter has no median and 68 % interval to give: its posterior is piled against an edge.

    Its one-sided 95 % limit alone describes it, or, with ``bound`` "both", nothing within its prior does.

    A summary written before ``piled`` existed gave a ``bound`` only for such a posterior.
    """
    return stats.get("bound") is not None and stats.get("piled", True)


def describe(stats: dict) -> str:
    """'0.2970 ± 0.0338'; '-0.0422 +0.0220 / -0.0225 (68 %), > -0.0792 at 95 % (...)'; or '> -0.0217 (95 % limit; ...)'."""
    if stats.get("bound") is None:
        return f"{stats['mean']:.4f} ± {stats['sd']:.4f}"
    if stats["bound"] == BOTH:
        if one_sided_only(stats):
            return f"unconstrained within its prior ({NO_LIMIT})"
        up, down = stats["q84"] - stats["median"], stats["median"] - stats["q16"]
        return f"{stats['median']:.4f} +{up:.4f} / -{down:.4f} (68 %), no 95 % limit ({NO_LIMIT})"
    sign = ">" if stats["bound"] == "upper" else "<"
    if one_sided_only(stats):
        return (
            f"{sign} {stats['limit']:.4f} ({100 * stats['credibility']:g} % limit; posterior piled against "
            f"the {stats['bound']} prior edge {stats['edge']:g})"
        )
    up, down = stats["q84"] - stats["median"], stats["median"] - stats["q16"]
    return (
        f"{stats['median']:.4f} +{up:.4f} / -{down:.4f} (68 %), {sign} {stats['limit']:.4f} at "
        f"{100 * stats['credibility']:g} % (the {stats['bound']} prior edge {stats['edge']:g} is inside the "
        f"{100 * stats['credibility']:g} % region)"
    )
