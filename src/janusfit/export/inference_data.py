"""An ArviZ InferenceData file of an emcee run, written with h5netcdf alone.

ArviZ stores InferenceData as one netCDF-4 file with a group per part;
``arviz.from_netcdf`` opens each group with xarray. This writes that layout
directly, so that making the export needs neither ArviZ nor xarray:

- ``posterior``: one variable per parameter, dimensions (chain, draw). The
  chains are the walker groups of the convergence checks (contiguous groups of
  walkers, each playing the part of one chain for R̂ and ESS), their draws
  in the order of :func:`~janusfit.export.draws.in_chain_order`: ArviZ's R̂ of
  the file is janusfit's, and its ESS within a few per cent of janusfit's.
- ``sample_stats``: ``lp`` (the log-probability emcee recorded for each
  draw), ``emcee_step`` and ``emcee_walker`` (where each draw comes from).
- file attributes (``InferenceData.attrs``): the run, its fingerprint, the
  burn-in and thinning, and the convergence results (the whole
  ``convergence.json`` as ``convergence_json``, and the main values flat).

netCDF attributes hold no booleans or nested maps, so flags are 0/1 and
nested results are JSON text.
"""

from __future__ import annotations

import datetime
import json

import h5netcdf
import numpy as np

from .. import __version__
from ..atomic import atomic_path
from .draws import EmceeDraws, in_chain_order


def chains_of(draws: EmceeDraws) -> list[np.ndarray]:
    """Walker indices of each chain: the walker groups when they are of equal size.

    InferenceData chains must all have as many draws. When the walkers do not
    divide into equal groups (e.g. 34 walkers, 4 groups), the largest number
    of equal contiguous groups below that is used instead.
    """
    sizes = {len(g) for g in draws.groups}
    if len(sizes) == 1:
        return draws.groups
    n_walkers = sum(len(g) for g in draws.groups)
    n = max(k for k in range(1, len(draws.groups) + 1) if n_walkers % k == 0)
    return np.split(np.arange(n_walkers), n)


def _attr(value):
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value)
    return value


def write_posterior_nc(path, draws: EmceeDraws, names, attrs: dict) -> int:
    """Write the InferenceData file; return the number of chains."""
    chains = chains_of(draws)
    n_chains, per_chain = len(chains), len(chains[0])
    n_draws = draws.chain.shape[0] * per_chain

    def by_chain(values):  # (n_kept_steps, n_walkers) -> (chain, draw)
        return np.stack([in_chain_order(values, idx) for idx in chains])

    created = datetime.datetime.now(datetime.UTC).replace(microsecond=0).isoformat()
    group_attrs = {
        "created_at": created,
        "inference_library": "emcee",
        "creation_library": "janusfit",
        "creation_library_version": __version__,
    }
    with atomic_path(path) as tmp:
        with h5netcdf.File(tmp, "w") as f:
            for key, value in attrs.items():
                f.attrs[key] = _attr(value)
            f.attrs["walker_groups"] = json.dumps([idx.tolist() for idx in chains])
            posterior = f.create_group("posterior")
            stats = f.create_group("sample_stats")
            for group in (posterior, stats):
                group.dimensions = {"chain": n_chains, "draw": n_draws}
                group.create_variable("chain", ("chain",), data=np.arange(n_chains))
                group.create_variable("draw", ("draw",), data=np.arange(n_draws))
                for key, value in group_attrs.items():
                    group.attrs[key] = value
            for i, name in enumerate(names):
                posterior.create_variable(name, ("chain", "draw"), data=by_chain(draws.chain[:, :, i]))
            stats.create_variable("lp", ("chain", "draw"), data=by_chain(draws.log_prob))
            steps = np.broadcast_to(draws.steps[:, None], draws.log_prob.shape)
            walkers = np.broadcast_to(np.arange(draws.log_prob.shape[1]), draws.log_prob.shape)
            stats.create_variable("emcee_step", ("chain", "draw"), data=by_chain(steps).astype(np.int64))
            stats.create_variable("emcee_walker", ("chain", "draw"), data=by_chain(walkers).astype(np.int64))
    return n_chains
