"""A digest of the values a final HDF5 file was written with, kept in the file, so that later damage is seen.

The final chain and dynesty's samples are written once, atomically, from
checksummed checkpoints. A file cut short fails when it is read; bytes
changed inside it (a disk's fault, a copy or sync tool, another program
writing) still read as numbers: zeros in the middle of a chain gave a
convergence.json of τ 254 for 4.6, with no error anywhere. The sha256 of
every array's values, stored as an attribute when the file is written and
compared by each reader, tells the two apart. A file written before janusfit
recorded it has none and is read as it is.

The check reads every value, in blocks, so it is left to the jobs that read
the file (a few MB per run), not done while Snakemake plans.
"""

from __future__ import annotations

import hashlib

import numpy as np

ATTRIBUTE = "janusfit_values_sha256"
BLOCK_BYTES = 16 << 20


def _dataset_sha256(dataset) -> str:
    """sha256 of a dataset's dtype, shape and values (C order), read a block of rows at a time."""
    digest = hashlib.sha256(f"{dataset.dtype.str}{dataset.shape}".encode())
    if dataset.shape == ():
        digest.update(np.ascontiguousarray(dataset[()]).tobytes())
        return digest.hexdigest()
    row_bytes = max(1, dataset.dtype.itemsize * int(np.prod(dataset.shape[1:], dtype=np.int64)))
    rows = max(1, BLOCK_BYTES // row_bytes)
    for start in range(0, dataset.shape[0], rows):
        digest.update(np.ascontiguousarray(dataset[start : start + rows]).tobytes())
    return digest.hexdigest()


def values_sha256(group) -> str:
    """One sha256 of every dataset directly in ``group`` (an open h5py file or group), by name."""
    digest = hashlib.sha256()
    for name in sorted(group):
        if hasattr(group[name], "dtype"):
            digest.update(f"{name}:{_dataset_sha256(group[name])};".encode())
    return digest.hexdigest()


def record(group) -> None:
    """Store the digest of ``group``'s datasets in it; call once every dataset is written."""
    group.attrs[ATTRIBUTE] = values_sha256(group)


def problem(group) -> str | None:
    """Why ``group``'s values are not those it was written with, or None (also when it records no digest)."""
    stored = group.attrs.get(ATTRIBUTE)
    if stored is None:
        return None
    found = values_sha256(group)
    if found != str(stored):
        return (
            f"its values are not those it was written with (sha256 {found[:12]}…, written {str(stored)[:12]}…): "
            "it was damaged after it was written"
        )
    return None
