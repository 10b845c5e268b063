"""Start-up: wall time from process start to the first likelihood call, and to each rule's stage function.

First likelihood call: a fresh interpreter imports janusfit, loads Pantheon+
with janusfit's loader, builds the flat-ΛCDM posterior and evaluates it once
on a batch of 32. The clock starts just before the process is spawned.
janusfit's kernels are numba functions cached on disk (``cache=True``):
*cold* runs with an empty NUMBA_CACHE_DIR, so every kernel the call needs is
compiled; *warm* reruns with the cache the cold run filled. The child reports
when each stage ended.

Rule scripts: for each script in ``scripts/``, a fresh interpreter runs what a
Snakemake job runs before the stage function's first line: the imports of
Snakemake's script preamble (it unpickles the job's ``snakemake`` object),
then the script's own imports. The clock starts just before the spawn and
stops when the imports are done; the child also stamps the end of the
preamble, so janusfit's share is reported apart from Snakemake's. This tree
and the baseline (``common.BASELINE``: the code before the start-up work,
extracted from git) are measured alternately in the same run, after one
unmeasured warm-up of each (file cache, ``.pyc``), and the median is kept.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import tempfile
import time

import common
import numpy as np
from common import REPO, tree, tree_env

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
    env = {
        **os.environ,
        "NUMBA_CACHE_DIR": cache_dir,
        "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
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


# What Snakemake's script preamble imports before the script's first line (snakemake.script.PythonScript).
PREAMBLE = "import pickle\nimport snakemake.io, snakemake.iocontainers\nfrom snakemake.logging import logger"
RULE_TARGET_S = 1.0


def _script_imports(path) -> str:
    tree_ = ast.parse(path.read_text())
    return ast.unparse([node for node in tree_.body if isinstance(node, (ast.Import, ast.ImportFrom))])


def _rule_once(root, script: str) -> dict:
    code = (
        f"import time\n{PREAMBLE}\n_preamble = time.time()\n{_script_imports(root / 'scripts' / script)}\n"
        "print(_preamble, time.time())"
    )
    t0 = time.time()
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=tree_env(root), cwd=root, timeout=600
    )
    if out.returncode != 0:
        raise RuntimeError(f"{root}/scripts/{script}: {out.stderr[-3000:]}")
    preamble, done = map(float, out.stdout.split()[-2:])
    return {"total_s": done - t0, "preamble_s": preamble - t0, "janusfit_s": done - preamble}


def rule_scripts(quick: bool, log=print) -> dict:
    """Process start to each rule script's stage function, this tree against the baseline, alternating."""
    sides = {"new": tree(None), "old": tree(common.BASELINE)}
    scripts = sorted(p.name for p in (REPO / "scripts").glob("*.py"))
    reps = 2 if quick else 3
    # A rule added since the baseline (hubble, provenance) is timed on this tree alone.
    present = {s: [side for side, root in sides.items() if (root / "scripts" / s).exists()] for s in scripts}
    samples = {s: {side: [] for side in present[s]} for s in scripts}
    for script in scripts:
        for side in present[script]:
            _rule_once(sides[side], script)  # warm-up: file cache and .pyc
        for rep in range(reps):
            for side in ("new", "old") if rep % 2 == 0 else ("old", "new"):
                if side in present[script]:
                    samples[script][side].append(_rule_once(sides[side], script))
    rows = []
    for script in scripts:
        med = {
            side: {
                k: float(np.median([x[k] for x in samples[script][side]]))
                for k in ("total_s", "preamble_s", "janusfit_s")
            }
            for side in present[script]
        }
        ratio = med["old"]["total_s"] / med["new"]["total_s"] if "old" in med else None
        status = "ok" if med["new"]["total_s"] <= RULE_TARGET_S else f"MISSED >{RULE_TARGET_S:g} s"
        rows.append({"script": script, **med, "ratio": ratio, "status": status})
        old = (
            f"old {med['old']['total_s']:.2f} s (janusfit {med['old']['janusfit_s']:.2f})   ×{ratio:.1f}"
            if ratio
            else "no such rule in the baseline"
        )
        log(
            f"  {script:18s} new {med['new']['total_s']:.2f} s (janusfit {med['new']['janusfit_s']:.2f})   "
            f"{old}  {status}"
        )
    return {"baseline": common.BASELINE, "reps": reps, "rows": rows, "samples": samples}


def run(quick: bool, log=print) -> dict:
    reps = 2 if quick else 5
    with tempfile.TemporaryDirectory(prefix="janusfit-numba-cache-") as cache:
        cold = _once(cache)
        warm = [_once(cache) for _ in range(reps)]
    warm_total = float(np.median([w["total_s"] for w in warm]))
    status = "ok" if warm_total <= 2.0 else "MISSED >2 s"
    log(f"  cold (empty numba cache): {cold['total_s']:.2f} s   warm (median of {reps}): {warm_total:.2f} s  {status}")
    log("  warm stages: " + "  ".join(f"{k} {v:.2f} s" for k, v in warm[len(warm) // 2]["stages_s"].items()))
    rules = rule_scripts(quick, log)
    return {
        "cold": cold,
        "warm": warm,
        "warm_median_s": warm_total,
        "status": status,
        "rules": rules,
        "load_average": os.getloadavg(),
    }
