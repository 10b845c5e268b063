"""Which Snakemake command started a sampling job, so ``janusfit status`` can say how to resume it.

A job run by Snakemake on this machine is a child of the ``snakemake``
process the user started; its command line, working directory and identity
(pid and start time, to tell it from a later process with the same pid) are
written to ``invocation.json`` beside the checkpoint. A job that Snakemake
started on another machine (a cluster executor runs ``snakemake
--target-jobs …`` there) is marked ``spawned``: that command is not the
user's.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import psutil

from ..atomic import atomic_write_json
from ..layout import INVOCATION, JOB

SPAWNED_FLAGS = ("--target-jobs", "--mode")
# A process is its pid and its start time. On Linux the start time is the
# process's ticks since boot plus the boot time, which the kernel gives in
# whole seconds and recomputes from the clock on each read: the same process
# reads a second earlier or later from one call to the next (a living job was
# once called interrupted so). A pid reused by another process started within
# this window is beyond reach.
START_TIME_TOLERANCE_S = 2.5


def is_snakemake(cmdline: list[str]) -> bool:
    return any(Path(part).name in ("snakemake", "snakemake.exe") or part == "snakemake" for part in cmdline[:3]) or (
        "-m" in cmdline[:3] and "snakemake" in cmdline[:4]
    )


def snakemake_ancestor(process: psutil.Process | None = None) -> psutil.Process | None:
    """The outermost ``snakemake`` process among this process's ancestors, or None."""
    found = None
    try:
        for parent in (process or psutil.Process()).parents():
            if is_snakemake(parent.cmdline()):
                found = parent
    except (psutil.Error, OSError):
        pass
    return found


def record_invocation(directory) -> dict | None:
    """Write who runs the sampler into ``directory`` (a checkpoint directory); the Snakemake record, None outside Snakemake.

    ``job.json``, always: this process, the sampling job. The checkpoint lock
    says a sampler runs while it samples; this says the job still lives
    after, while it writes its results (dynesty's samples and its exact
    evidence by quadrature take up to a second), so ``janusfit status`` does
    not call a finishing sampler interrupted. ``invocation.json``, under
    Snakemake: the command that started the job, for the resume command.
    """
    me = psutil.Process()
    atomic_write_json(
        Path(directory) / JOB, {"pid": me.pid, "create_time": me.create_time(), "host": socket.gethostname()}
    )
    record = snakemake_invocation(me)
    if record is not None:
        atomic_write_json(Path(directory) / INVOCATION, record)
    return record


def snakemake_invocation(process: psutil.Process | None = None) -> dict | None:
    """The Snakemake command that started this process (its outermost ``snakemake`` ancestor), or None."""
    parent = snakemake_ancestor(process)
    if parent is None:
        return None
    try:
        argv, cwd, created = parent.cmdline(), parent.cwd(), parent.create_time()
    except (psutil.Error, OSError):
        return None
    return {
        "argv": argv,
        "cwd": cwd,
        "workdir": os.getcwd(),
        "pid": parent.pid,
        "create_time": created,
        "host": socket.gethostname(),
        "recorded": time.time(),
        "spawned": any(flag in argv for flag in SPAWNED_FLAGS),
    }


def alive(record: dict) -> bool:
    """Whether the process of ``record`` (a Snakemake or a job record) is still running (on this host)."""
    if record.get("host") != socket.gethostname():
        return False
    try:
        process = psutil.Process(record["pid"])
        # A zombie is dead: killed, and not yet reaped by a parent that died too.
        started_then = abs(process.create_time() - record["create_time"]) < START_TIME_TOLERANCE_S
        return started_then and process.status() != psutil.STATUS_ZOMBIE
    except (psutil.Error, KeyError, TypeError):
        return False
