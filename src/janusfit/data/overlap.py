"""Points counted twice when datasets are fitted jointly.

A combined dataset adds its members' χ² as if they were independent. The
same data under two names counts every point twice and shrinks the errors by
√2, so it is refused, and so is a member whose every point is also in
another (a compilation and a part of it): rows are matched as (z, value)
pairs in any order, since a table copied, sorted another way or extended
counts the same points twice. Points shared by two compilations (Pantheon+
and DES-SN5YR share 335 supernovae by name; chronometer compilations share
H(z) measurements) are counted twice with no covariance between the copies,
which is worth a warning that names them.
"""

from __future__ import annotations

from collections import Counter
from itertools import combinations

from ..errors import ConfigError

SHOWN = 8  # names listed in a warning
POINTS = {"sn": "supernovae", "hz": "H(z) measurements"}


def check_members(combined: str, datasets) -> list[str]:
    """Raise ConfigError if a member's every row is in another's; return a warning per pair sharing points."""
    warnings = []
    for a, b in combinations(datasets, 2):
        if a.kind != b.kind:
            continue
        shared = _rows(a) & _rows(b)
        _refuse_contained(combined, a, b, sum(shared.values()))
        by_name = sorted(set(a.names) & set(b.names)) if a.names is not None and b.names is not None else []
        parts = []
        if by_name:
            parts.append(f"{len(by_name)} by name ({_listed(by_name)})")
        if shared:
            parts.append(
                f"{len(shared)} by identical (z, value) rows ({_listed(f'z={z:g}' for z, _ in sorted(shared))})"
            )
        if parts:
            warnings.append(
                f"datasets '{a.name}' and '{b.name}' combined in '{combined}' share {POINTS[a.kind]}: "
                f"{'; '.join(parts)}. Each is counted twice, with no covariance between its two "
                "copies; remove them from one of the datasets for a joint fit"
            )
    return warnings


def _rows(d) -> Counter:
    return Counter(zip(d.z.tolist(), d.values.tolist()))


def _refuse_contained(combined: str, a, b, n_shared: int) -> None:
    if n_shared == a.n == b.n:
        what = f"'{a.name}' and '{b.name}' hold the same {a.n} redshifts and values"
        harm = "every point twice and shrinks the errors"
    elif n_shared == min(a.n, b.n):
        small, large = (a, b) if a.n < b.n else (b, a)
        what = (
            f"every one of the {small.n} (z, value) rows of '{small.name}' is also in '{large.name}' ({large.n} rows)"
        )
        harm = "those points twice and shrinks their errors"
    else:
        return
    raise ConfigError(f"datasets.{combined}.combine", f"{what}: combining them counts {harm} by √2")


def _listed(items) -> str:
    items = list(items)
    return ", ".join(items[:SHOWN]) + (f", … ({len(items) - SHOWN} more)" if len(items) > SHOWN else "")
