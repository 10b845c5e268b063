"""Run the real janusfit workflow in a scratch directory, for the tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml
from release_configs import jla_binned

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
# Only a hung job takes this long: a 2-core machine shared with other work (load 8)
# runs the slowest of these workflows in a few minutes, so no verdict depends on its speed.
HANG_GUARD_S = 900


def write_config(directory: Path, public_data: Path, **sections) -> Path:
    """A config on JLA binned from tests/data, with ``sections`` merged over it."""
    config = {
        "datasets": {"jla": jla_binned(public_data)},
        "run_datasets": ["jla"],
    }
    config.update(sections)
    path = directory / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def command(directory: Path, *args: str) -> list[str]:
    return [
        *SNAKEMAKE,
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(directory),
        "--configfile",
        str(directory / "config.yaml"),
        "--cores",
        "2",
        *args,
    ]


def env(**extra: str) -> dict:
    # One BLAS thread per job: two concurrent jobs on two cores, no oversubscription.
    return {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", **extra}


def run(
    directory: Path, *args: str, timeout: float = HANG_GUARD_S, check: bool = True, extra_env: dict | None = None
) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        command(directory, *args), capture_output=True, text=True, timeout=timeout, env=env(**(extra_env or {}))
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-6000:]}")
    return proc


def start(directory: Path, *args: str) -> subprocess.Popen:
    """Snakemake in its own process group, so a test can signal it and its jobs."""
    return subprocess.Popen(
        command(directory, *args),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env=env(),
    )


class Scenarios(dict):
    """Named scenarios, ``function(directory, *args)``, each run on its own copy of one finished project.

    Each Snakemake start costs seconds of imports, so they run concurrently.
    """

    def add(self, function):
        self[function.__name__] = function
        return function

    def run(self, source: Path, tmp_path_factory, *args, workers: int = 3) -> dict:
        """name -> (directory, result); ``result()`` returns what the scenario returned or re-raises what it raised."""
        directories = {name: tmp_path_factory.mktemp(name) for name in self}
        for directory in directories.values():
            shutil.copytree(source, directory, symlinks=True, dirs_exist_ok=True)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = {name: pool.submit(function, directories[name], *args) for name, function in self.items()}
        return {name: (directories[name], futures[name].result) for name in self}


def outcome(outcomes: dict, name: str):
    """(directory, result) of a scenario; re-raises what the scenario raised."""
    directory, result = outcomes[name]
    return directory, result()
