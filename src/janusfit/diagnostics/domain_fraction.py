"""How much of the prior lies inside the model's domain, for the report.

A domain declared as a box (``Model.domain_bounds``) cuts the prior box into a
box, whose fraction of the prior is exact (``Posterior.log_domain_fraction``,
which ln Z adds analytically). A domain declared by ``Model.in_domain`` alone is
no box: dynesty samples the whole prior with a floor likelihood outside, ln Z
needs no fraction, and ``log_domain_fraction`` is 0. Reporting exp(0) = 1 as
the fraction of the prior inside such a domain would be wrong (a JANUS written
with ``in_domain`` alone showed 1.0 where 77 % of the prior is inside on JLA),
so the part inside the box is counted on quasi-random draws of it (Sobol),
with the error of a binomial count. Where every draw is inside, as for JANUS,
whose ``in_domain`` is its box's test in the kernels' arithmetic, the box's
exact fraction stands.
"""

from __future__ import annotations

import math

import numpy as np

N_DRAWS = 2**14


def prior_fraction_in_domain(posterior, n_draws: int = N_DRAWS) -> dict:
    """The fraction of the prior inside the model's domain: {value, err, draws} (draws 0 where it is exact)."""
    from ..models import Model  # the report imports this module for its words; the models load numba

    box_fraction = math.exp(posterior.log_domain_fraction)
    model = posterior.model
    if type(model).in_domain is Model.in_domain or box_fraction == 0.0:
        return {"value": box_fraction, "err": 0.0, "draws": 0}
    from scipy.stats import qmc  # only for models with a domain of their own: ~0.2 s of start-up

    lo, hi = posterior.sampling_bounds[:, 0], posterior.sampling_bounds[:, 1]
    unit = qmc.Sobol(d=posterior.ndim, scramble=True, seed=0).random(n_draws)
    theta = lo + unit * (hi - lo)
    inside = float(np.mean(model.in_domain(theta[:, : len(model.params)], posterior.z_max)))
    if inside == 1.0:
        return {"value": box_fraction, "err": 0.0, "draws": 0}
    return {
        "value": box_fraction * inside,
        "err": box_fraction * math.sqrt(inside * (1.0 - inside) / n_draws),
        "draws": n_draws,
    }


def fraction_cell(fraction: dict) -> float | str:
    """``overview.csv``'s cell: the exact fraction as a number, a counted one with its error and count."""
    if not fraction["draws"]:
        return round(fraction["value"], 4)
    return f"{fraction['value']:.4f} ± {fraction['err']:.4f} ({fraction['draws']} prior draws)"


def fraction_text(fraction: dict) -> str:
    """The report's words: "23 % of the prior inside the model's domain", a counted fraction with its error."""
    if not fraction["draws"]:
        return f"{100 * fraction['value']:.0f} % of the prior inside the model's domain"
    return (
        f"{100 * fraction['value']:.1f} ± {100 * fraction['err']:.1f} % of the prior inside the model's domain "
        f"(counted on {fraction['draws']} prior draws: the domain is not a box)"
    )
