"""Workflow throughput: the default comparison on 2 datasets × 2 models at ``--cores 2``, today's threads policy against the measured one.

The README's comparison (emcee and dynesty, every output and the report) on
two public releases from ``../shared/data``, Union3 (22 supernovae, full
covariance) and JLA binned (31, full covariance), for JANUS and flat ΛCDM:
4 pre-flight, 4 emcee and 4 dynesty jobs and the light jobs after them. Each
side runs in a fresh scratch directory with ``snakemake --cores 2``:

- ``performance`` (the policy before issue 18): every emcee job asks for
  ``threads: P`` (2 here), so Snakemake runs one at a time;
- ``measured`` (the default): each sampling job asks for the threads its
  likelihood turned into speed in the pre-flight job's measurement.

The sides alternate (measured, performance, then performance, measured, …);
wall time is from starting ``snakemake`` to its exit, with warm numba
caches, and the load average (``uptime``) is recorded around each run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml
from common import REPO, shared_data, tree_env

TARGET = 1.3
POLICIES = ("measured", "performance")


def _config(directory: Path, policy: str) -> Path:
    data = shared_data()
    config = {
        "datasets": {
            "union3": {
                "kind": "sn",
                "format": "union3",
                "path": str(data / "union3" / "lcparam_full.txt"),
                "cov": str(data / "union3" / "mag_covmat.txt"),
            },
            "jla_binned": {
                "kind": "sn",
                "format": "jla_binned",
                "path": str(data / "jla" / "jla_mub.txt"),
                "cov": str(data / "jla" / "jla_mub_covmatrix.txt"),
            },
        },
        "run_datasets": ["union3", "jla_binned"],
        "models": ["janus", "lcdm"],
        "samplers": ["emcee", "dynesty"],
        "cores": {"heavy": policy},
    }
    path = directory / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def once(policy: str) -> dict:
    with tempfile.TemporaryDirectory(prefix=f"janusfit-bench-throughput-{policy}-") as scratch:
        directory = Path(scratch)
        config = _config(directory, policy)
        cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(directory)]
        cmd += ["--cores", "2", "--configfile", str(config)]
        load_before = os.getloadavg()
        t0 = time.perf_counter()
        out = subprocess.run(cmd, capture_output=True, text=True, env=tree_env(REPO), timeout=7200)
        wall = time.perf_counter() - t0
        if out.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stderr[-4000:]}")
        threads = {}
        for record in sorted((directory / "results").glob("*/*/resources.json")):
            run = f"{record.parent.parent.name}/{record.parent.name}"
            measured = json.loads(record.read_text())
            threads[run] = {s: measured[s]["threads"] for s in ("emcee", "dynesty")}
        return {"wall_s": wall, "load_before": load_before, "load_after": os.getloadavg(), "measurement": threads}


def run(quick: bool, log=print) -> dict:
    reps = 1 if quick else 2
    samples = {p: [] for p in POLICIES}
    for rep in range(reps):
        for policy in POLICIES if rep % 2 == 0 else POLICIES[::-1]:
            samples[policy].append(once(policy))
            s = samples[policy][-1]
            log(
                f"  {policy}: {s['wall_s']:.1f} s (load {s['load_before'][0]:.2f} -> {s['load_after'][0]:.2f}); "
                + ", ".join(
                    f"{run} emcee {m['emcee']['threads']} (eff. 2: {m['emcee']['efficiency'].get('2', '-')})"
                    for run, m in s["measurement"].items()
                )
            )
    med = {p: float(np.median([s["wall_s"] for s in v])) for p, v in samples.items()}
    ratio = med["performance"] / med["measured"]
    status = "ok" if ratio >= TARGET else f"MISSED <{TARGET}x"
    log(
        f"  throughput: measured {med['measured']:.1f} s, performance {med['performance']:.1f} s, x{ratio:.2f} {status}"
    )
    return {"samples": samples, "median_s": med, "ratio": ratio, "target": TARGET, "status": status}
