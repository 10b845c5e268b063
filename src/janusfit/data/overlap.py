"""Points counted twice when datasets are fitted jointly.

A combined dataset adds its members' χ² as if they were independent. The
same data under two names counts every point twice and shrinks the errors by
√2, so it is refused; supernovae shared by two compilations (Pantheon+ and
DES-SN5YR share 335 by name) are counted twice with no covariance between the
copies, which is worth a warning that names them.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

from ..errors import ConfigError

SHOWN = 8  # names listed in a warning


def check_members(combined: str, datasets) -> list[str]:
    """Raise ConfigError if two members hold the same data; return a warning per pair sharing supernovae."""
    for a, b in combinations(datasets, 2):
        if a.kind == b.kind and np.array_equal(a.z, b.z) and np.array_equal(a.values, b.values):
            raise ConfigError(
                f"datasets.{combined}.combine",
                f"'{a.name}' and '{b.name}' hold the same {a.n} redshifts and values: combining them "
                "counts every point twice and shrinks the errors by √2",
            )
    warnings = []
    for a, b in combinations([d for d in datasets if d.kind == "sn"], 2):
        by_name = sorted(set(a.names) & set(b.names)) if a.names is not None and b.names is not None else []
        by_row = sorted(set(zip(a.z.tolist(), a.values.tolist())) & set(zip(b.z.tolist(), b.values.tolist())))
        parts = []
        if by_name:
            parts.append(f"{len(by_name)} by name ({_listed(by_name)})")
        if by_row:
            parts.append(f"{len(by_row)} by identical (z, value) rows ({_listed(f'z={z:g}' for z, _ in by_row)})")
        if parts:
            warnings.append(
                f"datasets '{a.name}' and '{b.name}' combined in '{combined}' share supernovae: "
                f"{'; '.join(parts)}. Each is counted twice, with no covariance between its two "
                "copies; remove them from one of the datasets for a joint fit"
            )
    return warnings


def _listed(items) -> str:
    items = list(items)
    return ", ".join(items[:SHOWN]) + (f", … ({len(items) - SHOWN} more)" if len(items) > SHOWN else "")
