"""A model's domain against the prior: refuse a prior that leaves no room, record what is sampled.

JANUS exists only where 1 + 2 q0 z > 0 up to the data's largest redshift, so a
prior box can lie wholly outside the model's domain. emcee would then search
for start points in vain and dynesty would integrate a constant floor
likelihood into a meaningless evidence, so both samplers check this first and
stop with a message that names the prior.

dynesty samples only the part of the prior inside a domain declared as a box
(``Model.domain_bounds``); that part enters its checkpoint's fingerprint, so a
checkpoint sampled over another part (or over the whole prior, as janusfit
0.1.0 did) is never resumed into this one.
"""

from __future__ import annotations

import itertools

import numpy as np

from ..errors import ConfigError


def require_domain_overlap(posterior, n_draws: int = 4096, seed: int = 0) -> None:
    """Raise ConfigError when no point of the prior box is inside the model's domain.

    The box's corners are tried as well as uniform draws, because a domain
    bounded by one parameter (JANUS's q0) may touch the box only at an edge.
    """
    lo, hi = posterior.bounds[:, 0], posterior.bounds[:, 1]
    corners = np.array(list(itertools.product(*posterior.bounds)))
    draws = lo + np.random.default_rng(seed).random((n_draws, len(lo))) * (hi - lo)
    theta = np.concatenate([corners, draws])
    n_model = len(posterior.model.params)
    if np.any(posterior.model.in_domain(theta[:, :n_model], posterior.z_max)):
        return
    model = posterior.model.name
    box = ", ".join(f"{p} in [{a:g}, {b:g}]" for p, (a, b) in zip(posterior.param_names, posterior.bounds))
    raise ConfigError(
        f"priors.{model}",
        f"the prior ({box}) excludes the whole domain of model '{model}' on these data "
        f"(z up to {posterior.z_max:g}): every prior point is one where the model does not exist. "
        "Widen or move the prior.",
    )


def domain_settings(posterior) -> dict:
    """For dynesty's fingerprint: the part of the prior it samples, when the domain cuts the prior."""
    if posterior.log_domain_fraction == 0.0:
        return {}
    return {
        "sampled_bounds": {
            p: [float(lo), float(hi)] for p, (lo, hi) in zip(posterior.param_names, posterior.sampling_bounds)
        }
    }
