"""Whole workflows under Snakemake: wall time from starting ``snakemake`` to its exit, this tree against the baseline.

Two workflows, each in a fresh scratch directory per run, with
``--cores 2`` and one BLAS thread per job (as the tests run them):

- *Union3 one model*: flat ΛCDM on Union3 (from ``../shared/data``), emcee
  only, up to its convergence checks — the jobs inspect_data, preflight,
  emcee and convergence. The sampler itself runs about a second, so this
  is almost all per-job start-up.
- *quick start*: the README's first command on the default config (the
  simulated 300-supernova set, JANUS and ΛCDM, emcee and dynesty, every
  output and the report), with ``--cores 2``.

This tree and the baseline (``common.BASELINE``, extracted from git) run
alternately, each with its own ``src`` first on PYTHONPATH for Snakemake and
every job. A tree with no numba cache yet (no ``.nbi`` index under its
``src``) is warmed first by one unmeasured quick start (numba's on-disk cache
of every kernel, ``.pyc``), so the rows are warm-cache figures. The median
over repetitions is kept.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import common
import numpy as np
import yaml
from common import shared_data, tree, tree_env

UNION3_TARGET_S = 10.0
QUICK_START_TARGET_S = 45.0


def _union3_config(directory: Path) -> None:
    data = shared_data() / "union3"
    config = {
        "datasets": {
            "union3": {
                "kind": "sn",
                "format": "union3",
                "path": str(data / "lcparam_full.txt"),
                "cov": str(data / "mag_covmat.txt"),
            }
        },
        "run_datasets": ["union3"],
        "models": ["lcdm"],
        "samplers": ["emcee"],
    }
    (directory / "config.yaml").write_text(yaml.safe_dump(config))


def _snakemake(root: Path, directory: Path, *args: str) -> float:
    env = {**tree_env(root), "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(root / "Snakefile"),
        "--directory",
        str(directory),
        "--cores",
        "2",
        *args,
    ]
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=3600)
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stderr[-4000:]}")
    return wall


def union3_once(root: Path) -> float:
    with tempfile.TemporaryDirectory(prefix="janusfit-bench-union3-") as scratch:
        directory = Path(scratch)
        _union3_config(directory)
        # The target before --configfile, which takes every argument after it.
        return _snakemake(
            root, directory, "results/union3/lcdm/convergence.json", "--configfile", str(directory / "config.yaml")
        )


def quick_start_once(root: Path) -> float:
    """``snakemake --cores 2`` in a copy of the tree's config, as a fresh checkout runs it."""
    with tempfile.TemporaryDirectory(prefix="janusfit-bench-quick-") as scratch:
        directory = Path(scratch)
        shutil.copytree(root / "config", directory / "config")
        return _snakemake(root, directory)


def run(quick: bool, log=print) -> dict:
    sides = {"new": tree(None), "old": tree(common.BASELINE)}
    for side, root in sides.items():
        if not any((root / "src").rglob("*.nbi")):
            log(f"  warm-up quick start, {side}: {quick_start_once(root):.1f} s (not counted)")
    reps = {"union3": 1 if quick else 3, "quick_start": 1}
    runs = {"union3": union3_once, "quick_start": quick_start_once}
    samples = {name: {side: [] for side in sides} for name in runs}
    for name, once in runs.items():
        for rep in range(reps[name]):
            for side in ("new", "old") if rep % 2 == 0 else ("old", "new"):
                samples[name][side].append(once(sides[side]))
                log(f"  {name} {side}: {samples[name][side][-1]:.1f} s")
    out = {"baseline": common.BASELINE, "reps": reps, "samples": samples, "load_average": os.getloadavg()}
    for name, target in (("union3", UNION3_TARGET_S), ("quick_start", QUICK_START_TARGET_S)):
        med = {side: float(np.median(v)) for side, v in samples[name].items()}
        out[name] = {
            **med,
            "ratio": med["old"] / med["new"],
            "status": "ok" if med["new"] <= target else f"MISSED >{target:g} s",
            "target_s": target,
        }
        log(
            f"  {name}: new {med['new']:.1f} s, old {med['old']:.1f} s, ×{out[name]['ratio']:.2f}  "
            f"{out[name]['status']}"
        )
    return out
