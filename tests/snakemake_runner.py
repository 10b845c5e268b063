"""Run the real janusfit workflow in a scratch directory, for the tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def write_config(directory: Path, shared_data: Path, **sections) -> Path:
    """A config on JLA binned from ../shared/data, with ``sections`` merged over it."""
    jla = shared_data / "jla"
    config = {
        "datasets": {"jla": {"kind": "sn", "format": "jla_binned", "path": str(jla / "jla_mub.txt"),
                             "cov": str(jla / "jla_mub_covmatrix.txt")}},
        "run_datasets": ["jla"],
    }
    config.update(sections)
    path = directory / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def command(directory: Path, *args: str) -> list[str]:
    return [*SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "--directory", str(directory),
            "--configfile", str(directory / "config.yaml"), "--cores", "2", *args]


def env() -> dict:
    # One BLAS thread per job: two concurrent jobs on two cores, no oversubscription.
    return {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}


def run(directory: Path, *args: str, timeout: float = 900, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(command(directory, *args), capture_output=True, text=True, timeout=timeout, env=env())
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-6000:]}")
    return proc


def start(directory: Path, *args: str) -> subprocess.Popen:
    """Snakemake in its own process group, so a test can signal it and its jobs."""
    return subprocess.Popen(command(directory, *args), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, start_new_session=True, env=env())
