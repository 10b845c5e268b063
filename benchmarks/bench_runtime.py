"""Runtime estimator: the pre-flight job's estimate against the measured wall time of real sampling jobs.

Each case simulates a Pantheon-like sample of N supernovae with its full
covariance (as bench_memory does). A fresh interpreter runs what the
pre-flight job runs (it imports ``snakemake.script`` as every Snakemake script
job does, then calls ``preflight_run``), which times the likelihood, measures
its own start-up and records the estimate in ``resources.json``. Another fresh
interpreter then runs the sampling job's stage (``sample_emcee`` or
``sample_dynesty``); its measured runtime is the ``job_wall_s`` of its
``memory.json``: from the start of the process to the end of sampling, as the
estimate counts it. emcee runs exactly ``max_steps`` (the stopping rule is off,
so the estimate is a prediction rather than a bound); dynesty stops at dlogz
0.1. The estimate holds when measured ≤ estimated ≤ 2 × measured.

Each row also gives what the constants in ``janusfit.resources.runtime`` are
calibrated on: for emcee, the run's sampling loop over the same number of the
bare steps the pre-flight job timed (``EMCEE_BOOKKEEPING``); for dynesty, the
sampler's own time per iteration beyond the likelihood calls
(``DYNESTY_ITERATION_S``). The dynamic sampler's case checks its count of
iterations (``janusfit.resources.memory.DYNAMIC_ESS_PER_ITERATION``).
About 3–4 minutes on 2 cores (``--quick``: 2 cases, about a minute).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bench_memory import _simulated
from common import REPO, run_cases

# (sampler[:dynesty method], walkers or nlive, steps (emcee), N)
CASES = [
    ("emcee", 32, 5_000, 300),
    ("emcee", 32, 40_000, 300),
    ("emcee", 64, 10_000, 1000),
    ("emcee", 32, 20_000, 40),
    ("dynesty", 500, None, 300),
    ("dynesty", 250, None, 1000),
    ("dynesty", 1000, None, 40),
    ("dynesty:dynamic", 250, None, 300),
]
QUICK_CASES = [("emcee", 32, 5_000, 300), ("dynesty", 250, None, 300)]

PREFLIGHT = """
import json, logging, sys
import snakemake.script  # every Snakemake script job imports this before its own code
from janusfit.stages.preflight import preflight_run
a = json.loads(sys.argv[1])
preflight_run(config=a["config"], dataset="sim", model="lcdm", data_json=a["data_json"], granted_mem_mb=None,
              out_json=a["preflight_json"], out_table=a["preflight_csv"], resources_json=a["resources_json"],
              log=logging.getLogger("bench_runtime"))
"""

SAMPLER = """
import json, logging, sys
import snakemake.script
from janusfit.stages.sample import sample_dynesty, sample_emcee
a = json.loads(sys.argv[1])
stage = sample_emcee if a["sampler"] == "emcee" else sample_dynesty
stage(config=a["config"], dataset="sim", model="lcdm", checkpoint_dir=a["checkpoint"], **a["outputs"],
      data_json=a["data_json"], memory_json=a["memory_json"],
      log=logging.getLogger("bench_runtime"))
"""


def _child(code: str, args: dict, cwd: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""),
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
    }
    out = subprocess.run(
        [sys.executable, "-c", code, json.dumps(args)], capture_output=True, text=True, env=env, cwd=cwd, timeout=3600
    )
    if out.returncode != 0:
        raise RuntimeError(f"{args.get('sampler', 'preflight')} failed ({out.returncode}):\n{out.stderr[-3000:]}")


def _case(spec: str, size: int, n_steps: int | None, n_data: int, tmp: Path) -> dict:
    sampler, _, method = spec.partition(":")
    data, config = _simulated(tmp, sampler, size, n_steps, n_data)
    if method:
        config["dynesty"]["method"] = method
    run = tmp / f"{sampler}-{method or 'static'}-{size}-{n_steps}-{n_data}"
    run.mkdir()
    _child(
        PREFLIGHT,
        {
            "config": config,
            "data_json": str(data / "data.json"),
            "preflight_json": str(run / "preflight.json"),
            "preflight_csv": str(run / "preflight.csv"),
            "resources_json": str(run / "resources.json"),
        },
        tmp,
    )
    outputs = (
        {"chain_path": str(run / "chain.h5"), "run_json": str(run / "run.json")}
        if sampler == "emcee"
        else {"samples_path": str(run / "samples.h5"), "evidence_json": str(run / "evidence.json")}
    )
    _child(
        SAMPLER,
        {
            "config": config,
            "sampler": sampler,
            "checkpoint": str(run / "checkpoint"),
            "outputs": outputs,
            "data_json": str(data / "data.json"),
            "memory_json": str(run / "memory.json"),
        },
        tmp,
    )
    recorded = json.loads((run / "resources.json").read_text())
    estimated_s = recorded[sampler]["runtime_minutes"] * 60
    measured_s = json.loads((run / "memory.json").read_text())["job_wall_s"]
    result = json.loads(Path(list(outputs.values())[1]).read_text())
    t_eval = recorded[sampler]["likelihood_s"]
    if sampler == "emcee":
        case = f"emcee {size} walkers × {result['n_steps']:,} steps, N = {n_data}"
        own_s = result["elapsed_s"] / (result["n_steps"] * recorded[sampler]["step_s"])
        own = f"loop {own_s:.2f} × the bare steps"
    else:
        case = f"dynesty {method + ' ' if method else ''}nlive {size} ({result['n_iter']:,} iterations), N = {n_data}"
        own_s = (result["elapsed_s"] - result["n_calls"] * t_eval) / result["n_iter"]
        own = f"{own_s * 1e3:.2f} ms per iteration"
    return {
        "case": case + " full cov",
        "sampler": sampler,
        "estimated_s": estimated_s,
        "measured_s": measured_s,
        "startup_s": recorded["startup_s"],
        "sampling_s": result["elapsed_s"],
        "likelihood_s": t_eval,
        "own_s": own_s,
        "own": own,
        "ratio": estimated_s / measured_s,
        "holds": measured_s <= estimated_s <= 2 * measured_s,
    }


def run(quick: bool, log=print) -> dict:
    return run_cases(
        QUICK_CASES if quick else CASES,
        _case,
        lambda r: (
            f"estimated {r['estimated_s']:6.1f} s  measured {r['measured_s']:6.1f} s  ratio {r['ratio']:.2f}  "
            f"(start-up {r['startup_s']:.1f} s, {r['own']})"
        ),
        "janusfit-bench-runtime-",
        log,
    )
