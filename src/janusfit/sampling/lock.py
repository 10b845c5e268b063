"""One writer per checkpoint directory.

When Snakemake is killed with ``kill -9`` its running job is orphaned and keeps
sampling; a new Snakemake run then starts a second sampler on the same
checkpoint. An exclusive ``fcntl.flock`` on a lock file in the checkpoint
directory makes the second one wait for the first (which finishes and leaves a
complete checkpoint to resume from) instead of writing beside it. The kernel
drops the lock when its holder dies, however it dies, so a stale lock file is
never an obstacle.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from ..errors import CheckpointError


class CheckpointLock:
    """Exclusive lock on ``directory``; waits up to ``timeout_s`` (None: forever)."""

    def __init__(self, directory, timeout_s: float | None = None, log=print, poll_s: float = 0.5):
        directory = Path(directory)
        # Beside the directory, not in it, so that moving a superseded
        # checkpoint aside does not move the lock with it.
        self.path = directory.with_name(directory.name + ".lock")
        self.timeout_s = timeout_s
        self.log = log
        self.poll_s = poll_s
        self._fh = None

    def _holder(self) -> str:
        try:
            return self.path.read_text().strip() or "unknown"
        except OSError:
            return "unknown"

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+")
        start = time.monotonic()
        announced = -1.0
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                waited = time.monotonic() - start
                if self.timeout_s is not None and waited >= self.timeout_s:
                    fh.close()
                    raise CheckpointError(
                        f"checkpoint '{self.path.with_suffix('')}' is locked by another sampler "
                        f"(pid {self._holder()}) still running, perhaps orphaned by a killed "
                        f"Snakemake; waited {waited:.0f} s. Let it finish or stop it, then rerun."
                    ) from None
                if waited - announced >= 60 or announced < 0:
                    self.log(
                        f"waiting for the sampler holding '{self.path}' (pid {self._holder()}) "
                        f"to finish; it will leave a checkpoint to resume from"
                    )
                    announced = waited
                time.sleep(self.poll_s)
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        self._fh = fh

    def release(self) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()
