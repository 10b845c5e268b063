"""What every benchmark shares: where the data are, the machine, and fair timing.

Fair timing means both sides of a comparison are measured in the same run,
alternating (A B C, then B C A, ...), over several repetitions, and the median
is reported: a slow spell of a shared machine then hits every side alike
instead of whichever happened to run during it.
"""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from importlib.metadata import version
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
RESULTS = REPO / "benchmarks" / "results"


def shared_data() -> Path:
    """../shared/data beside the repository, or exit with a message saying where it was looked for."""
    if not (SHARED_DATA / "MANIFEST.md").is_file():
        sys.exit(
            f"benchmarks need the public data releases in {SHARED_DATA} (the repository expects "
            "../shared/data beside it, see its MANIFEST.md); not found, nothing was run"
        )
    return SHARED_DATA


def load(name: str):
    """A named benchmark dataset through janusfit's own loader (Pantheon+ warns about its diagonal errors)."""
    from janusfit.data import load_dataset

    data = shared_data()
    specs = {
        "pantheon+": {"kind": "sn", "format": "pantheon_plus", "path": data / "pantheonplus" / "Pantheon+SH0ES.dat"},
        "union3": {
            "kind": "sn",
            "format": "union3",
            "path": data / "union3" / "lcparam_full.txt",
            "cov": data / "union3" / "mag_covmat.txt",
        },
        "jla_binned": {
            "kind": "sn",
            "format": "jla_binned",
            "path": data / "jla" / "jla_mub.txt",
            "cov": data / "jla" / "jla_mub_covmatrix.txt",
        },
        "chronometers": {
            "kind": "hz",
            "format": "hz_table",
            "path": data / "cosmic_chronometers" / "moresco2016_hz.txt",
        },
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return load_dataset(name, {k: str(v) for k, v in specs[name].items()})


def synthetic_full_cov(seed: int = 20240601):
    """All 1701 Pantheon+ rows with a random SPD covariance diag(σ²) + AAᵀ, A_ij ~ N(0, 0.1²/N), fixed seed.

    The release's own STAT+SYS matrix is not in ../shared/data; this one has
    its size and is dense and well conditioned (≈ 0.1 mag of correlated
    scatter on top of the diagonal errors), which is all a timing needs.
    """
    import pandas as pd

    from janusfit.data.dataset import Dataset

    table = pd.read_csv(shared_data() / "pantheonplus" / "Pantheon+SH0ES.dat", sep=r"\s+")
    n = len(table)
    a = np.random.default_rng(seed).normal(size=(n, n)) * (0.1 / np.sqrt(n))
    cov = a @ a.T + np.diag(table["m_b_corr_err_DIAG"].to_numpy(float) ** 2)
    return Dataset(
        "synthetic_full_1701",
        "sn",
        table["zHD"].to_numpy(float),
        table["m_b_corr"].to_numpy(float),
        cov=cov,
        zhel=table["zHEL"].to_numpy(float),
    )


def machine() -> dict:
    """CPU, cores, Python and library versions, for the README and the JSON."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    libs = {name: version(name) for name in ("numpy", "scipy", "numba", "astropy", "emcee", "dynesty", "h5py")}
    return {
        "host": socket.gethostname(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "blas": _blas(),
        "janusfit_commit": _commit(),
        **libs,
    }


def _blas() -> str:
    config = np.show_config(mode="dicts") if "mode" in np.show_config.__code__.co_varnames else {}
    try:
        blas = config["Build Dependencies"]["blas"]
        return f"{blas['name']} {blas.get('version', '')}".strip()
    except (KeyError, TypeError):
        return "unknown"


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO), "describe", "--always", "--dirty"], capture_output=True, text=True, timeout=10
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def calibrate(fn, target_s: float) -> int:
    """Calls of ``fn`` that take about ``target_s`` (at least 1)."""
    fn()
    n, elapsed = 1, 0.0
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        elapsed = time.perf_counter() - t0
        if elapsed >= target_s / 4 or n >= 1 << 20:
            return max(1, int(n * target_s / max(elapsed, 1e-9)))
        n *= 4


def alternate(candidates: dict, reps: int, block_s: float) -> dict:
    """Median seconds per call of each candidate, timed in alternating blocks.

    Each candidate is a no-argument callable. Every repetition times one block
    of about ``block_s`` seconds of each, in an order rotated by one each time.
    """
    names = list(candidates)
    counts = {name: calibrate(candidates[name], block_s) for name in names}
    samples = {name: [] for name in names}
    for rep in range(reps):
        for name in names[rep % len(names) :] + names[: rep % len(names)]:
            fn, n = candidates[name], counts[name]
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            samples[name].append((time.perf_counter() - t0) / n)
    return {name: float(np.median(v)) for name, v in samples.items()}


def run_python(code: str, env: dict | None = None, timeout: float = 1800) -> str:
    """Run ``code`` in a fresh interpreter (the repository's src on its path); return its stdout."""
    full_env = {
        **os.environ,
        "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""),
        **(env or {}),
    }
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=full_env, timeout=timeout, cwd=REPO
    )
    if out.returncode != 0:
        raise RuntimeError(f"benchmark subprocess failed ({out.returncode}):\n{out.stderr[-3000:]}")
    return out.stdout


# The code an "old vs new" row compares with: janusfit before the start-up
# work of issue 17 (the integration commit it branched from). ``run.py
# --baseline REF`` replaces it.
BASELINE = "4dfda1c"


def tree(ref: str | None) -> Path:
    """The source tree at ``ref`` (None: this working tree), extracted once with ``git archive`` under /tmp.

    An archive rather than a git worktree: it leaves the repository's
    metadata untouched. Python runs a tree's code with its ``src`` first on
    PYTHONPATH, ahead of the installed janusfit.
    """
    if ref is None:
        return REPO
    sha = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--verify", f"{ref}^{{commit}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    dest = Path(tempfile.gettempdir()) / f"janusfit-bench-{sha[:12]}"
    if not dest.is_dir():
        part = Path(tempfile.mkdtemp(prefix=f"{dest.name}.", suffix=".part"))
        archive = subprocess.run(["git", "-C", str(REPO), "archive", sha], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(part)], input=archive, check=True)
        part.rename(dest)
    return dest


def tree_env(root: Path) -> dict:
    """The environment that runs ``root``'s janusfit: its src first on PYTHONPATH."""
    return {**os.environ, "PYTHONPATH": str(root / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}


def run_cases(cases, case, describe, prefix: str, log=print) -> dict:
    """``case(sampler, size, n_steps, n_data, tmp)`` for each case in one scratch directory, logging ``describe(row)``.

    The memory and runtime estimators are both checked this way: each row says
    whether measured <= estimated <= 2 x measured held (``holds``).
    """
    rows = []
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        for sampler, size, n_steps, n_data in cases:
            row = case(sampler, size, n_steps, n_data, Path(tmp))
            rows.append(row)
            log(f"  {row['case']:<54} {describe(row)}  {'ok' if row['holds'] else 'MISSED'}")
    return {"rows": rows, "all_hold": all(r["holds"] for r in rows)}
