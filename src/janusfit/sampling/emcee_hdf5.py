"""The final emcee chain: assembled in emcee's HDF5 layout, checked, and set aside when unreadable.

The file is readable by ``emcee.backends.HDFBackend(path, read_only=True)``;
it is written once at the end of a run from the checkpoint's segments
(:mod:`.segments`), never step by step. The workflow checks existing final
chains while it is parsed (:func:`set_aside_if_unreadable`), so emcee and h5py
are imported only when a file is written or read: parsing loads neither.
"""

from __future__ import annotations

import numpy as np

from ..atomic import atomic_path
from ..errors import JanusfitError
from . import store, values_digest

CHUNK_BYTES = 256 << 10  # of the final HDF5 file's datasets


def write_emcee_hdf5(pieces, n: int, path, n_walkers: int, ndim: int, random_state) -> np.ndarray:
    """Assemble the final chain in emcee's HDF5 layout from ``pieces`` of it, one at a time.

    ``pieces`` yields (chain, log_prob, accepted) of consecutive steps, ``n``
    in all. The file is readable by ``emcee.backends.HDFBackend(path,
    read_only=True)``. Returns the accepted proposals per walker.
    """
    import h5py

    from ..imports import import_emcee

    emcee = import_emcee()

    # Row-aligned chunks of ~256 KiB, in a cache holding several: each segment
    # then fills whole chunks and finishes the one the last segment began.
    # h5py's automatic chunks for a long chain split the walkers and
    # parameters ((15625, 1, 1) at 1e6 steps), so every segment rewrote part
    # of hundreds of chunks: slow, and its memory grew with the chain.
    rows = max(1, min(n, CHUNK_BYTES // (n_walkers * ndim * 8)))
    lp_rows = max(1, min(n, CHUNK_BYTES // (n_walkers * 8)))
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w", rdcc_nbytes=16 * CHUNK_BYTES) as f:
            g = f.create_group("mcmc")
            g.attrs["version"] = emcee.__version__
            g.attrs["nwalkers"] = n_walkers
            g.attrs["ndim"] = ndim
            g.attrs["has_blobs"] = False
            g.attrs["iteration"] = n
            chain = g.create_dataset(
                "chain",
                (n, n_walkers, ndim),
                maxshape=(None, n_walkers, ndim),
                dtype="f8",
                chunks=(rows, n_walkers, ndim),
            )
            log_prob = g.create_dataset(
                "log_prob", (n, n_walkers), maxshape=(None, n_walkers), dtype="f8", chunks=(lp_rows, n_walkers)
            )
            accepted = np.zeros(n_walkers)
            at = 0
            for c, lp, acc in pieces:
                chain[at : at + len(c)] = c
                log_prob[at : at + len(c)] = lp
                accepted += acc
                at += len(c)
            g.create_dataset("accepted", data=accepted)
            for i, v in enumerate(random_state):
                g.attrs[f"random_state_{i}"] = v
            values_digest.record(g)
    return accepted


def chain_problem(path) -> str | None:
    """Why the final chain at ``path`` cannot be read as emcee's HDF5 layout, or None if it can.

    Raises BlockingIOError while another process has the file open for
    writing (HDF5 locks it): the file is in use, which is no damage.
    """
    import h5py

    try:
        with h5py.File(path, "r") as f:
            g = f["mcmc"]
            n, shape = int(g.attrs["iteration"]), (int(g.attrs["nwalkers"]), int(g.attrs["ndim"]))
            if g["chain"].shape != (n, *shape) or g["log_prob"].shape != (n, shape[0]):
                return f"its arrays do not hold the {n} steps it declares"
            g["chain"][-1:]  # the last chunk: a file cut short fails here, if not on opening
    except BlockingIOError:
        raise
    except (OSError, KeyError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def set_aside_if_unreadable(path) -> str | None:
    """Move a final chain that cannot be read aside (``<name>.damaged-<time>-<pid>``); returns what was done.

    Its steps are all in the checkpoint's segments, so the emcee job, which
    Snakemake reruns for the missing output, rebuilds it without sampling.
    """
    return store.set_aside_if_unreadable(
        path, chain_problem, what="the final chain", then="the emcee job rebuilds it from its checkpoint segments"
    )


def require_intact(path) -> None:
    """Raise JanusfitError when the chain's values are not those it was written with, once it is set aside.

    Snakemake then sees it missing and the emcee job rebuilds it from its
    checkpoint segments (:mod:`.values_digest` says why readers check).
    """
    import h5py

    with h5py.File(path, "r") as f:
        damage = values_digest.problem(f["mcmc"])
    if damage:
        raise JanusfitError(
            store.set_aside_damaged(
                path,
                damage,
                what="the final chain",
                then="rerun Snakemake: the emcee job rebuilds it from its checkpoint",
            )
        )
