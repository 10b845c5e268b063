"""dynesty's final samples (``samples.h5``): whether the file can be read, and setting aside one that cannot.

A file cut short or damaged after its run (a full disk, a copy cut short) is
set aside while Snakemake plans, so that Snakemake sees it missing and the
dynesty job writes it again from its complete checkpoint; left in place,
every reader of it (the corner plot, the exports) would fail. A reader that
meets one damaged later names it (:func:`require_readable`).
"""

from __future__ import annotations

from ..errors import JanusfitError
from . import store, values_digest

ARRAYS = ("samples", "weights", "logl")


def samples_problem(path) -> str | None:
    """Why the samples file at ``path`` cannot be read, or None if it can (BlockingIOError: in use, as the chain's)."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            n = len(f["samples"])
            for key in ARRAYS:
                if len(f[key]) != n:
                    return f"its arrays do not hold the same {n} points"
                f[key][-1:]  # the last point: a file cut short fails here, if not on opening
            float(f.attrs["logz"])
    except BlockingIOError:
        raise
    except (OSError, KeyError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def set_aside_if_unreadable(path) -> str | None:
    """Move a samples file that cannot be read aside (``<name>.damaged-<time>-<pid>``); returns what was done."""
    return store.set_aside_if_unreadable(
        path, samples_problem, what="the final samples", then="the dynesty job writes them again from its checkpoint"
    )


def read_weighted(path) -> tuple:
    """(samples, normalised weights, ln L) of dynesty's run, as numpy arrays; points of zero weight are left out."""
    import h5py

    require_readable(path)
    with h5py.File(path, "r") as f:
        samples, weights, logl = f["samples"][:], f["weights"][:], f["logl"][:]
    keep = weights > 0
    return samples[keep], weights[keep] / weights[keep].sum(), logl[keep]


def equal_weight_draws(path, seed: int = 0):
    """As many draws as the run has points, each picked with its weight: a sample of the posterior.

    A fixed ``seed``, so that a figure drawn again from the same file is the same figure.
    """
    import numpy as np

    samples, weights, _ = read_weighted(path)
    return samples[np.random.default_rng(seed).choice(len(samples), size=len(samples), p=weights)]


def require_readable(path) -> None:
    """Raise JanusfitError naming a samples file that cannot be read, or whose values were damaged (set aside)."""
    import h5py

    try:
        problem = samples_problem(path)
    except BlockingIOError as exc:
        raise JanusfitError(f"the final samples '{path}' are open for writing in another process ({exc})") from None
    if problem:
        raise JanusfitError(
            f"the final samples '{path}' cannot be read ({problem}). Rerun Snakemake: the damaged file is set "
            "aside and the dynesty job writes it again from its checkpoint"
        )
    with h5py.File(path, "r") as f:
        damage = values_digest.problem(f)
    if damage:
        raise JanusfitError(
            store.set_aside_damaged(
                path, damage, what="the final samples", then="rerun Snakemake: the dynesty job writes them again"
            )
        )
