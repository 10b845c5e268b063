"""Memory estimator: predicted ``mem_mb`` against the measured peak RSS of real sampling jobs.

Each case simulates a Pantheon-like sample of N supernovae with its full
covariance (janusfit's own simulator, written as text files as the workflow
writes them), describes it with the data rule's ``inspect``, and asks the
estimator for the ``mem_mb`` the workflow would request
(``janusfit.resources.requests.memory_estimate``, flat ΛCDM). A fresh
interpreter then runs what a sampling job runs: it imports ``snakemake.script``
as every Snakemake script job does, and calls the rule's stage function
(``sample_emcee`` or ``sample_dynesty``: loading, checkpointed sampling, the
memory monitor and its record; the summary job draws its figure). Its peak is the kernel's high-water mark of its
own memory (VmHWM, read at the end). emcee runs exactly ``n_steps`` (the
stopping rule is off); dynesty stops at dlogz 0.1. The estimate holds when
measured ≤ predicted ≤ 2 × measured.

The grid spans 32–256 walkers, 1e3–1e5 steps and N = 20–2000 for emcee and
nlive 250–1000 at N = 20–2000 for dynesty; long chains are paired with small N
so that the section runs in 6–11 minutes on 2 cores (``--quick``: 3 cases, under a minute).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

from common import REPO, run_cases

# (sampler, walkers or nlive, steps (emcee), N)
CASES = [
    ("emcee", 32, 100_000, 20),
    ("emcee", 256, 100_000, 20),
    ("emcee", 256, 10_000, 20),
    ("emcee", 64, 10_000, 500),
    ("emcee", 256, 1_000, 1000),
    ("emcee", 32, 1_000, 2000),
    ("dynesty", 1000, None, 20),
    ("dynesty", 250, None, 200),
    ("dynesty", 500, None, 2000),
]
QUICK_CASES = [("emcee", 32, 10_000, 20), ("emcee", 64, 1_000, 2000), ("dynesty", 250, None, 200)]

CHILD = """
import json, logging, sys
import snakemake.script  # every Snakemake script job imports this before its own code
from janusfit.resources.monitor import own_maxrss_mb
from janusfit.stages.sample import sample_dynesty, sample_emcee
args = json.loads(sys.argv[1])
log = logging.getLogger("bench_memory")
stage = sample_emcee if args["sampler"] == "emcee" else sample_dynesty
stage(config=args["config"], dataset="sim", model="lcdm", checkpoint_dir=args["checkpoint"], **args["outputs"],
      data_json=args["data_json"], memory_json=args["memory_json"], log=log)
print(json.dumps({"peak_mb": own_maxrss_mb()}))
"""


def _config(csv: Path, cov: Path, sampler: str, size: int, n_steps: int | None) -> dict:
    from snakemake.utils import validate

    config = {
        "datasets": {"sim": {"kind": "sn", "format": "simulated", "path": str(csv), "cov": str(cov)}},
        "models": ["lcdm"],
        "samplers": [sampler],
        "emcee": {
            "n_walkers": size,
            "max_steps": n_steps or 1000,
            "checkpoint": {"seconds": 3600},
            "stop": {"enabled": False},
        },
        "dynesty": {"nlive": size, "dlogz": 0.1, "checkpoint_seconds": 60},
    }
    validate(config, str(REPO / "workflow/schemas/config.schema.yaml"))
    return config


def _simulated(tmp: Path, sampler: str, size: int, n_steps: int | None, n_data: int) -> tuple[Path, dict]:
    """N simulated supernovae with a full covariance, written and inspected once per N; their directory and config."""
    from janusfit.data import write_simulated
    from janusfit.stages.data import inspect

    data = tmp / f"n{n_data}"
    csv, cov = data / "hubble.csv", data / "hubble.cov"
    if not csv.exists():
        data.mkdir()
        write_simulated(csv, cov, data / "hubble.truth.json", n_sn=n_data, seed=20240601 + n_data)
        inspect(
            config=_config(csv, cov, sampler, size, n_steps),
            dataset="sim",
            out_json=data / "data.json",
            log=logging.getLogger("janusfit-bench"),
        )
    return data, _config(csv, cov, sampler, size, n_steps)


def _case(sampler: str, size: int, n_steps: int | None, n_data: int, tmp: Path) -> dict:
    from janusfit.resources.requests import memory_estimate

    data, config = _simulated(tmp, sampler, size, n_steps, n_data)
    estimate = memory_estimate(config, "sim", "lcdm", sampler, data / "data.json")
    run = tmp / f"{sampler}-{size}-{n_steps}-{n_data}"
    outputs = (
        {"chain_path": str(run / "chain.h5"), "run_json": str(run / "run.json")}
        if sampler == "emcee"
        else {"samples_path": str(run / "samples.h5"), "evidence_json": str(run / "evidence.json")}
    )
    args = {
        "config": config,
        "sampler": sampler,
        "checkpoint": str(run / "checkpoint"),
        "outputs": outputs,
        "data_json": str(data / "data.json"),
        "memory_json": str(run / "memory.json"),
    }
    env = {**os.environ, "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(args)], capture_output=True, text=True, env=env, cwd=tmp, timeout=1800
    )
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        raise RuntimeError(f"{sampler} case failed ({out.returncode}):\n{out.stderr[-3000:]}")
    measured = json.loads(out.stdout.strip().splitlines()[-1])["peak_mb"]
    result = json.loads(Path(list(outputs.values())[1]).read_text())
    predicted = estimate.total_mb
    if sampler == "emcee":
        case = f"emcee {size} walkers × {result['n_steps']:,} steps, N = {n_data}"
    else:
        case = f"dynesty nlive {size} ({result['n_iter']:,} iterations), N = {n_data}"
    return {
        "case": case + " full cov",
        "sampler": sampler,
        "n_data": n_data,
        "predicted_mb": predicted,
        "measured_mb": measured,
        "ratio": predicted / measured,
        "holds": measured <= predicted <= 2 * measured,
        "wall_s": wall,
        "monitor_peak_mb": json.loads((run / "memory.json").read_text())["peak_rss_mb"],
        "components_mb": {k: round(v, 1) for k, v in estimate.components.items()},
    }


def run(quick: bool, log=print) -> dict:
    return run_cases(
        QUICK_CASES if quick else CASES,
        _case,
        lambda r: (
            f"predicted {r['predicted_mb']:5d} MB  measured {r['measured_mb']:6.1f} MB  ratio {r['ratio']:.2f}  "
            f"({r['wall_s']:.0f} s)"
        ),
        "janusfit-bench-memory-",
        log,
    )
