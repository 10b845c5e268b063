"""Scale: peak memory against chain length, and BLAS threads on the 1701-point full covariance.

Chain length: ``run_emcee`` with 32 walkers on the 5-parameter Gaussian of
bench_checkpoint for 1e4, 1e5 and 1e6 steps, the chain on disk (segments every
1000 steps, then the final HDF5 file), the stopping rule disabled (τ estimated
once, at the end). Each length runs in a fresh interpreter, which reports its
peak resident set size and its steps/s. The peak is the kernel's high-water
mark of the process's own memory (VmHWM); ``ru_maxrss`` would not do, as Linux
carries it over from the forked parent (this benchmark's own process) across
exec.

Threads: the synthetic 1701 × 1701 full-covariance likelihood in fresh
interpreters with OPENBLAS_NUM_THREADS (and OMP_NUM_THREADS) = 1 and 2
(threadpoolctl is not a janusfit dependency), evaluations/s at batch 32 and
128, for janusfit's default (reduced) evaluation and for the direct route
through a triangular solve of all 1701 residuals, which is where BLAS threads
can act. The thread count is fixed when a process starts, so the two sides
alternate by process: 1 2, 2 1, 1 2, ... one interpreter each, and the
median over these repetitions is reported.
"""

from __future__ import annotations

import json

import numpy as np
from common import REPO, run_python

SCALE_CODE = """
import json, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, {bench!r})
from bench_checkpoint import Gaussian, run_janusfit
n = {n}
with tempfile.TemporaryDirectory(prefix="janusfit-scale-") as tmp:
    wall = run_janusfit(Gaussian(), n, Path(tmp), check_every=n)
hwm_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({{"steps": n, "steps_per_s": n / wall, "wall_s": wall, "peak_rss_mb": hwm_kb / 1024}}))
"""

THREADS_CODE = """
import json, sys, time
import numpy as np
sys.path.insert(0, {bench!r})
from common import synthetic_full_cov, alternate
from janusfit.likelihood import Posterior
from janusfit.models import get_model
post = Posterior(get_model("lcdm"), [synthetic_full_cov()])
like = post.sn[0]
out = {{}}
for batch in (32, 128):
    theta = np.random.default_rng(1).uniform(0.3, 0.4, (batch, 1))
    t = alternate({{"reduced": lambda: post(theta),
                   "direct": lambda: like.chi2_direct(post.model, theta)}}, reps=3, block_s=0.2)
    out[batch] = {{k: batch / v for k, v in t.items()}}
print(json.dumps(out))
"""


def run(quick: bool, log=print) -> dict:
    bench = str(REPO / "benchmarks")
    lengths = (10_000, 30_000) if quick else (10_000, 100_000, 1_000_000)
    scale = []
    for n in lengths:
        row = json.loads(run_python(SCALE_CODE.format(bench=bench, n=n), timeout=3600).strip().splitlines()[-1])
        scale.append(row)
        log(f"  {n:>9,d} steps: peak RSS {row['peak_rss_mb']:7.1f} MB  {row['steps_per_s']:7.0f} steps/s")
    rss_ratio = scale[-1]["peak_rss_mb"] / scale[0]["peak_rss_mb"]
    scale_status = "ok" if rss_ratio <= 1.1 else "MISSED >1.1x"
    log(f"  peak RSS at {lengths[-1]:,d} / at {lengths[0]:,d} steps: {rss_ratio:.3f}  {scale_status}")

    samples = {"1": [], "2": []}
    for rep in range(2 if quick else 5):
        for n in ("1", "2") if rep % 2 == 0 else ("2", "1"):
            env = {"OPENBLAS_NUM_THREADS": n, "OMP_NUM_THREADS": n}
            samples[n].append(
                json.loads(run_python(THREADS_CODE.format(bench=bench), env=env).strip().splitlines()[-1])
            )
    threads = {
        n: {
            b: {route: float(np.median([s[b][route] for s in runs])) for route in ("reduced", "direct")}
            for b in runs[0]
        }
        for n, runs in samples.items()
    }
    speedup = {
        route: {b: threads["2"][b][route] / threads["1"][b][route] for b in threads["1"]}
        for route in ("reduced", "direct")
    }
    thread_status = "ok" if speedup["reduced"]["128"] >= 1.7 else "MISSED <1.7x"
    for route in ("reduced", "direct"):
        log(
            f"  1701 full cov, {route:7s}: "
            + "  ".join(
                f"batch {b}: {threads['1'][b][route]:8.0f} -> {threads['2'][b][route]:8.0f} evals/s ({speedup[route][b]:.2f}x)"
                for b in threads["1"]
            )
        )
    log(f"  threads 2 vs 1 (default route, batch 128): {speedup['reduced']['128']:.2f}x  {thread_status}")
    return {
        "chain_length": scale,
        "rss_ratio": rss_ratio,
        "rss_status": scale_status,
        "threads": threads,
        "thread_speedup": speedup,
        "thread_status": thread_status,
    }
