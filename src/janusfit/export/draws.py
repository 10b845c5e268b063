"""The draws an export writes: emcee's after burn-in, by walker group, and dynesty's weighted samples."""

from __future__ import annotations

import math
from dataclasses import dataclass

import h5py
import numpy as np

from ..sampling.emcee_hdf5 import require_intact

# Above this many post-burn-in emcee draws, exports keep every k-th step
# (k as small as brings them under it): a million draws pin means and 95 %
# limits far below their Monte Carlo error, and a 10⁶-step run of 32 walkers
# would otherwise make gigabytes of text.
MAX_DRAWS = 1_000_000


def walker_groups(n_walkers: int, n_groups: int) -> list[np.ndarray]:
    """Walker indices of each group, as the convergence checks cut them (``diagnostics.convergence.group_walkers``).

    Contiguous groups whose sizes differ by at most one; every walker its own
    group when there are fewer walkers than groups. Written out here (and held
    equal to the checks' by a test) so that an export does not import the
    samplers' diagnostics, and with them emcee and scipy.stats: seconds of
    start-up for every export job.
    """
    return np.array_split(np.arange(n_walkers), min(n_groups, n_walkers))


def in_chain_order(values: np.ndarray, walkers: np.ndarray) -> np.ndarray:
    """The draws of ``walkers`` from (n_steps, n_walkers, ...) values, in the order of an exported chain.

    First the earlier half of the steps, walker by walker (each walker's
    steps in order), then the middle step when their number is odd, then the
    later half, walker by walker. A split-R̂ of the chain's two halves then
    compares exactly the halves in time that janusfit's R̂ compares, and the
    autocorrelation along the chain is, but for a few junctions, each
    walker's own: ArviZ's ESS of an exported chain is then close to
    janusfit's (draws interleaved step by step would look independent).
    """
    v = values[:, walkers]
    n = len(v)
    m = n // 2
    tail = v.shape[2:]
    return np.concatenate(
        [
            np.swapaxes(v[:m], 0, 1).reshape(-1, *tail),
            v[m : n - m].reshape(-1, *tail),
            np.swapaxes(v[n - m :], 0, 1).reshape(-1, *tail),
        ]
    )


@dataclass(frozen=True)
class EmceeDraws:
    """Post-burn-in draws, every ``thin``-th step from ``burn_in`` on."""

    chain: np.ndarray  # (n_kept_steps, n_walkers, n_params)
    log_prob: np.ndarray  # (n_kept_steps, n_walkers)
    steps: np.ndarray  # the emcee step of each kept row
    groups: list[np.ndarray]  # walker indices of each group, as the convergence checks cut them
    burn_in: int
    thin: int


def read_emcee(chain_h5, burn_in: int, n_groups: int, max_draws: int = MAX_DRAWS) -> EmceeDraws:
    """Read the kept part of an emcee chain file (emcee's HDF5 layout) without loading the rest."""
    require_intact(chain_h5)
    with h5py.File(chain_h5, "r") as f:
        chain, log_prob = f["mcmc/chain"], f["mcmc/log_prob"]
        n_steps, n_walkers, _ = chain.shape
        kept = max(n_steps - burn_in, 0)
        thin = max(1, math.ceil(kept * n_walkers / max_draws))
        rows = slice(burn_in, n_steps, thin)
        values, lp = chain[rows], log_prob[rows]
    return EmceeDraws(
        chain=values,
        log_prob=lp,
        steps=np.arange(n_steps)[rows],
        groups=walker_groups(n_walkers, n_groups),
        burn_in=int(burn_in),
        thin=thin,
    )
