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

Each job's start and end are stamped as Snakemake reports them, so a run
also gives its **allocated core-seconds**, Σ threads × duration over its
jobs: the cores the jobs held, used or not. Divided by ``--cores`` it is
the shortest wall time any scheduler could reach with those requests, and
the ratio of the two sides' core-seconds is the most a threads policy can
gain on this workflow; the emcee jobs' share of it is what the measured
policy changes.
"""

from __future__ import annotations

import json
import os
import re
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


JOB_START = re.compile(r"\s*(?:local)?rule (\w+):")
JOB_FIELD = re.compile(r"\s*(jobid|threads): (\d+)")
JOB_END = re.compile(r"Finished jobid: (\d+)")


def _jobs(lines) -> list[dict]:
    """Each job's rule, threads, start and end (seconds since Snakemake started), from its (line, time) output."""
    jobs, current = {}, None
    for line, t in lines:
        if m := JOB_START.match(line):
            current = {"rule": m.group(1), "threads": 1, "start": t}
        elif current is not None and (m := JOB_FIELD.match(line)):
            if m.group(1) == "jobid":
                jobs[m.group(2)] = current
            else:
                current["threads"] = int(m.group(2))
        elif (m := JOB_END.match(line.strip())) and m.group(1) in jobs:
            jobs[m.group(1)]["end"] = t
    return [j for j in jobs.values() if "end" in j and j["rule"] != "all"]


def once(policy: str) -> dict:
    with tempfile.TemporaryDirectory(prefix=f"janusfit-bench-throughput-{policy}-") as scratch:
        directory = Path(scratch)
        config = _config(directory, policy)
        cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(directory)]
        cmd += ["--cores", "2", "--configfile", str(config)]
        load_before = os.getloadavg()
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=tree_env(REPO))
        lines = [(line, time.perf_counter() - t0) for line in proc.stdout]
        code = proc.wait(timeout=7200)
        wall = time.perf_counter() - t0
        if code != 0:
            output = "".join(line for line, _ in lines)
            raise RuntimeError(f"{' '.join(cmd)} failed ({code}):\n{output[-4000:]}")
        jobs = _jobs(lines)
        threads = {}
        for record in sorted((directory / "results").glob("*/*/resources.json")):
            run = f"{record.parent.parent.name}/{record.parent.name}"
            measured = json.loads(record.read_text())
            threads[run] = {s: measured[s]["threads"] for s in ("emcee", "dynesty") if "threads" in measured[s]}
        return {
            "wall_s": wall,
            "load_before": load_before,
            "load_after": os.getloadavg(),
            "measurement": threads,
            "jobs": jobs,
            "core_s": sum(j["threads"] * (j["end"] - j["start"]) for j in jobs),
            "emcee_s": sum(j["end"] - j["start"] for j in jobs if j["rule"] == "emcee"),
            "threads_by_rule": {j["rule"]: j["threads"] for j in jobs if j["threads"] > 1},
        }


def run(quick: bool, log=print) -> dict:
    reps = 1 if quick else 3
    samples = {p: [] for p in POLICIES}
    for rep in range(reps):
        for policy in POLICIES if rep % 2 == 0 else POLICIES[::-1]:
            samples[policy].append(once(policy))
            s = samples[policy][-1]
            held = ", ".join(f"{rule} {n}" for rule, n in sorted(s["threads_by_rule"].items())) or "none"
            log(
                f"  {policy}: {s['wall_s']:.1f} s (load {s['load_before'][0]:.2f} -> {s['load_after'][0]:.2f}); "
                f"{len(s['jobs'])} jobs, {s['core_s']:.1f} core-s allocated (emcee jobs {s['emcee_s']:.1f} s); "
                f"rules with more than one thread: {held}"
            )
    med = {p: float(np.median([s["wall_s"] for s in v])) for p, v in samples.items()}
    core_s = {p: float(np.median([s["core_s"] for s in v])) for p, v in samples.items()}
    ratio = med["performance"] / med["measured"]
    bound = core_s["performance"] / core_s["measured"]
    status = "ok" if ratio >= TARGET else f"MISSED <{TARGET}x"
    log(
        f"  throughput: measured {med['measured']:.1f} s, performance {med['performance']:.1f} s, x{ratio:.2f} {status}; "
        f"allocated core-s {core_s['measured']:.1f} against {core_s['performance']:.1f} "
        f"(the most any scheduler could gain from these requests: x{bound:.2f})"
    )
    return {
        "samples": samples,
        "median_s": med,
        "median_core_s": core_s,
        "ratio": ratio,
        "core_s_ratio": bound,
        "target": TARGET,
        "status": status,
    }
