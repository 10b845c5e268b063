"""GetDist's plain-text chain format (as CosmoMC and Cobaya write it).

A root ``R`` is the files ``R.1.txt``, ``R.2.txt``, … (one per chain; each row
is weight, −ln posterior, then the parameters), ``R.paramnames`` (name and
LaTeX label per line) and ``R.ranges`` (name and prior bounds, which GetDist
uses to correct its density estimates at hard prior edges).
``getdist.loadMCSamples(R)`` reads it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..atomic import atomic_path

NUMBER_FORMAT = "%.15g"


def _latex(label: str) -> str:
    """GetDist labels are LaTeX without the surrounding dollars."""
    return label.strip().strip("$")


def write_root(root: Path, chains, names, labels: dict, ranges: dict) -> list[Path]:
    """Write each ``(weights, minus_log_post, samples)`` of ``chains`` as ``root.<i>.txt``, with the name files."""
    root = Path(root)
    written = []
    for i, (weights, minus_log_post, samples) in enumerate(chains, start=1):
        rows = np.column_stack([weights, minus_log_post, samples])
        path = root.with_name(f"{root.name}.{i}.txt")
        with atomic_path(path) as tmp:
            np.savetxt(tmp, rows, fmt=NUMBER_FORMAT, delimiter=" ")
        written.append(path)
    text = {
        "paramnames": "".join(f"{n}\t{_latex(labels.get(n, n))}\n" for n in names),
        "ranges": "".join(f"{n}\t{ranges[n][0]!r}\t{ranges[n][1]!r}\n" for n in names),
    }
    for suffix, content in text.items():
        path = root.with_name(f"{root.name}.{suffix}")
        with atomic_path(path) as tmp:
            tmp.write_text(content)
        written.append(path)
    return written
