"""Start-up: wall time from process start to the end of the first likelihood call.

A fresh interpreter imports janusfit, loads Pantheon+ with janusfit's loader,
builds the flat-ΛCDM posterior and evaluates it once on a batch of 32. The
clock starts just before the process is spawned. janusfit's kernels are numba
functions cached on disk (``cache=True``): *cold* runs with an empty
NUMBA_CACHE_DIR, so every kernel the call needs is compiled; *warm* reruns
with the cache the cold run filled. The child reports when each stage ended.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from common import REPO

CHILD = """
import time
stamps = {{"interpreter": time.time()}}
import sys
sys.path.insert(0, {bench!r})
import numpy as np
import janusfit.likelihood
from janusfit.models import get_model
stamps["imports"] = time.time()
from common import load
ds = load("pantheon+")
stamps["data"] = time.time()
post = janusfit.likelihood.Posterior(get_model("lcdm"), [ds])
stamps["posterior"] = time.time()
post(np.linspace(0.25, 0.4, 32)[:, None])
stamps["first_call"] = time.time()
import json
print(json.dumps(stamps))
"""


def _once(cache_dir: str) -> dict:
    env = {**os.environ, "NUMBA_CACHE_DIR": cache_dir,
           "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    code = CHILD.format(bench=str(REPO / "benchmarks"))
    t0 = time.time()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    stamps = json.loads(out.stdout.strip().splitlines()[-1])
    stages, last = {}, t0
    for name, t in stamps.items():
        stages[name] = t - last
        last = t
    return {"total_s": stamps["first_call"] - t0, "stages_s": stages}


def run(quick: bool, log=print) -> dict:
    reps = 2 if quick else 5
    with tempfile.TemporaryDirectory(prefix="janusfit-numba-cache-") as cache:
        cold = _once(cache)
        warm = [_once(cache) for _ in range(reps)]
    warm_total = float(np.median([w["total_s"] for w in warm]))
    status = "ok" if warm_total <= 2.0 else "MISSED >2 s"
    log(f"  cold (empty numba cache): {cold['total_s']:.2f} s   warm (median of {reps}): {warm_total:.2f} s  {status}")
    log("  warm stages: " + "  ".join(f"{k} {v:.2f} s" for k, v in warm[len(warm) // 2]["stages_s"].items()))
    return {"cold": cold, "warm": warm, "warm_median_s": warm_total, "status": status}
