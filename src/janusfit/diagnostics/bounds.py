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
- ``bound`` is "both" when no 95 % limit lies within the prior (GetDist's
  limit type "none"): ``limit`` and ``edge`` are null. ``flat`` says the
  posterior is flat over the sampled box, to within what its effective
  draws can tell (a KS test against the uniform, and a CDF within 5 % of
  it): the data do not constrain the parameter there, and it is
  "unconstrained within its prior"; before, such a posterior was reported
  as a one-sided limit at the prior's own 5 % or 95 % quantile. A posterior
  whose density stands well above the 95 % level at both edges (rising to
  both) has no 95 % limit either. Near a tie the histogram's scatter would
  decide, so an edge at the level is not counted as inside both ways.
- ``piled`` is true when the 68 % region reaches the edge too: the posterior
  is piled against it and only the one-sided 95 % limit describes it. When it
  is false, the median with its 68 % interval stands, and the 95 % interval
  is the one-sided limit. A Gaussian cut at d σ from its mode is piled for
  d < 0.70 and has a one-sided 95 % limit for d < 1.67. JLA and the cosmic
  chronometers under JANUS (mode 2 σ inside q0 = 0, density there 0.25 of
  the peak against a 95 % level of 0.26) sit at that threshold: q0 =
  −0.042 ± 0.022, with q0 > −0.08 at 95 % or not, by the draws.

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
# A posterior is flat over the sampled box (the data do not tell its values apart) when its CDF is within
# FLAT_CDF of the uniform one everywhere and within what its effective draws allow (Kolmogorov-Smirnov,
# accepted at 1 %: D sqrt(n) < 1.628). The first keeps a posterior that merely leans from being called flat
# when its draws are few (dynesty's weighted ones: an effective 700-1000 at nlive 300).
FLAT_CDF = 0.05
KS_1_PERCENT = 1.628
# Both edges count as inside the 95 % region when both densities stand this many standard errors above
# its level (a posterior rising to both edges); near the level, the draws' scatter would decide.
SCATTER_SIGMAS = 2.0


def edge_bound(
    draws: np.ndarray, lo: float, hi: float, weights: np.ndarray | None = None, n_eff: float | None = None
) -> dict:
    """{bound: "upper"|"lower"|"both"|None, piled, flat, edge, limit, credibility, edge_density_ratio} of one
    parameter's draws.

    ``edge_density_ratio`` is the density at the edge where the posterior is fuller, over its peak density.
    ``weights`` (one per draw, any normalisation) weigh the draws; None counts each once. ``n_eff`` is the
    draws' effective number (emcee's ESS; for weights, Kish's by default; else the number of draws).
    """
    draws = np.asarray(draws, dtype=float)
    weighted = weights is not None
    weights = np.asarray(weights, dtype=float) if weighted else np.ones_like(draws)
    h = BIN_SD_FRACTION * (weighted_sd(draws, weights) if weighted else float(np.std(draws)))
    none = {
        "bound": None,
        "piled": False,
        "flat": False,
        "edge": None,
        "limit": None,
        "credibility": CREDIBILITY,
        "edge_density_ratio": 0.0,
    }
    if not h > 0:
        return none
    kish = weights.sum() ** 2 / np.sum(weights**2)
    if not (n_eff is not None and math.isfinite(n_eff) and n_eff > 0):
        n_eff = kish
    first = math.floor((draws.min() - lo) / h)
    edges = lo + h * np.arange(first, math.ceil((draws.max() - lo) / h) + 1)
    counts = np.histogram(draws, bins=edges, weights=weights)[0] if len(edges) > 1 else np.array([weights.sum()])
    fullest = counts.max()
    # The variances count draws as independent: scaled up to the effective number of them.
    inflation = kish / n_eff
    densities = {"lower": _edge_density(draws - lo, h, weights), "upper": _edge_density(hi - draws, h, weights)}
    level, piled_level = (_region_level(counts, c) * fullest for c in (CREDIBILITY, PILED_CREDIBILITY))
    side = max(densities, key=lambda s: densities[s][0])
    ratio = float(densities[side][0] / fullest)
    flat = _flat(draws, weights, lo, hi, n_eff)
    above = all(d - SCATTER_SIGMAS * math.sqrt(v * inflation) >= level for d, v in densities.values())
    if flat or above:
        return {
            **none,
            "bound": BOTH,
            "piled": bool(flat or densities[side][0] >= piled_level),
            "flat": bool(flat),
            "edge_density_ratio": ratio,
        }
    if densities[side][0] < level:
        return {**none, "edge_density_ratio": ratio}
    quantile = 1.0 - CREDIBILITY if side == "upper" else CREDIBILITY
    return {
        **none,
        "bound": side,
        "piled": bool(densities[side][0] >= piled_level),
        "edge": float(hi if side == "upper" else lo),
        "limit": float(
            np.quantile(draws, quantile, weights=weights, method="inverted_cdf")
            if weighted
            else np.quantile(draws, quantile)
        ),
        "edge_density_ratio": ratio,
    }


def _flat(draws: np.ndarray, weights: np.ndarray, lo: float, hi: float, n_eff: float) -> bool:
    """Whether the draws are those of a posterior flat over [lo, hi] (:data:`FLAT_CDF`, :data:`KS_1_PERCENT`)."""
    if not hi > lo:
        return False
    order = np.argsort(draws)
    x, cdf = draws[order], np.cumsum(weights[order]) / weights.sum()
    uniform = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    # The empirical CDF steps at each draw: compare both sides of each step.
    before = np.concatenate([[0.0], cdf[:-1]])
    d = float(max(np.max(np.abs(cdf - uniform)), np.max(np.abs(before - uniform))))
    return d < FLAT_CDF and d * math.sqrt(n_eff) < KS_1_PERCENT


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


def unlimited(stats: dict) -> str:
    """What a posterior with no limit within its prior, and no median to give, is: flat, or piled at both edges."""
    if stats.get("flat"):
        return "unconstrained within its prior (the posterior is flat over it)"
    return f"no limit within its prior ({NO_LIMIT})"


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
            return unlimited(stats)
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
