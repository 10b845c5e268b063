"""One writer per checkpoint directory, on one machine and across a cluster's nodes.

When Snakemake is killed with ``kill -9`` its running jobs are orphaned and
keep sampling (on a cluster they are SLURM jobs, which Snakemake's death does
not cancel); a new Snakemake run then starts a second sampler on the same
checkpoint, possibly on another node. Two mechanisms make the second one wait
for the first instead of writing beside it:

- An exclusive ``fcntl.flock`` on ``<dir>.lock``. The kernel drops it when
  its holder dies, however it dies, so on one machine a dead holder never
  blocks the next sampler and a live one always does. On a cluster's shared
  file system flock may exclude only processes on the same node (Lustre's
  ``localflock``, NFS with ``local_lock``), so it cannot be the only guard.
- A lease, ``<dir>.lease``: a small JSON record naming its holder (host, pid,
  SLURM job id, a random token) and when it last renewed the lease. A thread
  of the holder renews it every ``heartbeat_s`` seconds. A sampler on another
  host waits while the lease is fresh, and takes it over only once it has not
  been renewed for ``lease_timeout_s`` (``LEASE_TIMEOUT_S``, 5 minutes: well
  above NFS's attribute caching of at most a minute, several missed
  renewals and the clock difference of nodes that munge, which checks
  timestamps, accepts). On the holder's own host the flock decides: the lease
  of a holder that died there is taken over at once.

A lease is created with an exclusive ``link``, so of two samplers taking over
the same stale lease at the same moment only one succeeds. The holder renews
it by rewriting, in place, the file it linked (through a descriptor it keeps
open), never by replacing the name: a holder frozen in the middle of a
renewal (a suspended job, SIGSTOP) would otherwise, once thawed, put its own
record back over the lease another sampler had taken over meanwhile, and both
would write the checkpoint. Once taken over, the holder's file is no longer
the one the name points to, and its late renewal goes to a file nobody
reads. It finds out before its next checkpoint write (``verify``), and stops
without writing.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import CheckpointError, LeaseLostError

LEASE_TIMEOUT_S = 300.0
HEARTBEAT_S = 30.0
# Seconds between two "still waiting" messages.
ANNOUNCE_EVERY_S = 60.0


@dataclass(frozen=True)
class Holder:
    """Who holds a lease, as its record says."""

    host: str
    pid: int | str
    slurm_job_id: str | None
    token: str
    renewed: float  # time.time() of the last renewal, on the holder's clock

    @classmethod
    def read(cls, path: Path) -> Holder | None:
        """The lease's holder; None when there is no lease.

        A record that cannot be read (damaged, or written by something else)
        names an unknown holder renewed at the file's modification time, so
        that it too goes stale and is taken over.
        """
        try:
            # Bytes: a record of bytes that are not UTF-8 is damaged like any other, decoded below.
            text = path.read_bytes()
            mtime = path.stat().st_mtime
        except FileNotFoundError:
            return None
        try:
            r = json.loads(text)
            return cls(str(r["host"]), int(r["pid"]), r.get("slurm_job_id"), str(r["token"]), float(r["renewed"]))
        except (ValueError, TypeError, KeyError):
            return cls("unknown", "unknown", None, "", mtime)

    def describe(self) -> str:
        job = f", SLURM job {self.slurm_job_id}" if self.slurm_job_id else ""
        return f"host {self.host}{job}"


class CheckpointLock:
    """Exclusive hold on ``directory``; waits up to ``timeout_s`` (None: forever)."""

    def __init__(
        self,
        directory,
        timeout_s: float | None = None,
        log=print,
        poll_s: float = 0.5,
        lease_timeout_s: float = LEASE_TIMEOUT_S,
        heartbeat_s: float | None = None,
    ):
        directory = Path(directory)
        self.directory = directory
        # Beside the directory, not in it, so that moving a superseded
        # checkpoint aside does not move the lock with it.
        self.path = directory.with_name(directory.name + ".lock")
        self.lease_path = directory.with_name(directory.name + ".lease")
        self.timeout_s = timeout_s
        self.log = log
        self.poll_s = poll_s
        self.lease_timeout_s = lease_timeout_s
        self.heartbeat_s = heartbeat_s if heartbeat_s is not None else min(HEARTBEAT_S, lease_timeout_s / 10)
        self.host = socket.gethostname()
        self.token = ""
        self._acquired = 0.0
        self._fh = None
        # The lease file this sampler linked, open for renewals in place.
        self._lease_fd: int | None = None
        self._record_size = 0
        # Keeps verify() from reading our record while the heartbeat rewrites it.
        self._record_lock = threading.Lock()
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None
        self._lost: Holder | None = None

    # --- acquiring ---------------------------------------------------------

    def acquire(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fh = open(self.path, "a+")
        except OSError as exc:
            raise CheckpointError(
                f"cannot write the checkpoint lock '{self.path}' ({exc.strerror}): the sampler keeps its lock and "
                f"checkpoints in '{self.path.parent}', which must be a writable directory; make it so (chmod u+w), or run "
                "the workflow where it can write"
            ) from None
        start = time.monotonic()
        announced = [None]
        try:
            while not self._flock(fh):
                self._wait(start, announced, Holder.read(self.lease_path), foreign=False)
            while True:
                holder = Holder.read(self.lease_path)
                if holder is not None and holder.host != self.host and not self._stale(holder):
                    self._wait(start, announced, holder, foreign=True)
                    continue
                if self._claim(holder):
                    break
        except BaseException:
            fh.close()
            raise
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        self._fh = fh
        self._stop.clear()
        self._heartbeat = threading.Thread(target=self._renew_until_stopped, name="janusfit-lease", daemon=True)
        self._heartbeat.start()

    @staticmethod
    def _flock(fh) -> bool:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False

    def _age(self, holder: Holder) -> float:
        return time.time() - holder.renewed

    def _stale(self, holder: Holder) -> bool:
        return self._age(holder) > self.lease_timeout_s

    def _wait(self, start: float, announced: list, holder: Holder | None, foreign: bool) -> None:
        """Sleep one poll interval, saying so once a minute; raise once ``timeout_s`` has passed."""
        waited = time.monotonic() - start
        pid = holder.pid if holder else "unknown"
        where = f" on {holder.describe()}" if holder else ""
        if self.timeout_s is not None and waited >= self.timeout_s:
            raise CheckpointError(
                f"checkpoint '{self.directory}' is locked by another sampler (pid {pid}) still running{where}, "
                f"perhaps orphaned by a killed Snakemake; waited {waited:.0f} s. Let it finish or stop it, then rerun."
            ) from None
        if announced[0] is None or waited - announced[0] >= ANNOUNCE_EVERY_S:
            lease = (
                f"; its lease was renewed {self._age(holder):.0f} s ago and is taken over if not renewed for "
                f"{self.lease_timeout_s:.0f} s"
                if foreign
                else ""
            )
            self.log(
                f"waiting for the sampler holding '{self.path}' (pid {pid}){where} to finish; "
                f"it will leave a checkpoint to resume from{lease}"
            )
            announced[0] = waited
        time.sleep(self.poll_s)

    def _claim(self, previous: Holder | None) -> bool:
        """Replace ``previous`` (a dead or stale holder's lease, or none) by ours; False if another sampler was faster."""
        token = secrets.token_hex(8)
        acquired = time.time()
        tmp = self.lease_path.with_name(f".{self.lease_path.name}.{token}.tmp")
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666)
        # Room for any later renewal's record, so that rewriting it never shrinks the file.
        self._record_size = len(self._record(token, acquired)) + 32
        try:
            self._rewrite(fd, token, acquired)
            if previous is not None:
                if previous.host != self.host:
                    self.log(
                        f"taking over the lease of '{self.directory}' from the sampler (pid {previous.pid}) on "
                        f"{previous.describe()}: not renewed for {self._age(previous):.0f} s "
                        f"(more than {self.lease_timeout_s:.0f} s)"
                    )
                # Under a name only this sampler uses: if another one replaced
                # the stale lease in the meantime, its own lease is moved
                # instead, which its verify() then reports as lost.
                aside = self.lease_path.with_name(f".{self.lease_path.name}.{token}.old")
                try:
                    os.rename(self.lease_path, aside)
                    aside.unlink()
                except FileNotFoundError:
                    pass
            try:
                os.link(tmp, self.lease_path)
            except FileExistsError:
                os.close(fd)
                return False
        except BaseException:
            os.close(fd)
            raise
        finally:
            tmp.unlink(missing_ok=True)
        self.token = token
        self._acquired = acquired
        self._lease_fd = fd
        self._lost = None
        return True

    def _record(self, token: str, acquired: float) -> bytes:
        record = {
            "host": self.host,
            "pid": os.getpid(),
            "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
            "token": token,
            "acquired": acquired,
            "renewed": time.time(),
        }
        return json.dumps(record).encode()

    def _rewrite(self, fd: int, token: str, acquired: float) -> None:
        """Write the record over the file's start, padded to its fixed size (JSON allows the trailing blanks), and flush it."""
        os.pwrite(fd, self._record(token, acquired).ljust(self._record_size), 0)
        os.fsync(fd)

    def _holds(self) -> bool:
        """Whether the lease's name still points to the file this sampler linked, and that file to our token."""
        try:
            named = os.stat(self.lease_path)
        except FileNotFoundError:
            return False
        try:
            ours = os.fstat(self._lease_fd)
        except OSError:
            # ESTALE on NFS: another node's take-over deleted our file on the server.
            return False
        if (named.st_dev, named.st_ino) != (ours.st_dev, ours.st_ino):
            return False
        holder = Holder.read(self.lease_path)
        return holder is not None and holder.token == self.token

    # --- holding -----------------------------------------------------------

    def _renew_until_stopped(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            with self._record_lock:
                try:
                    if not self._holds():
                        self._lost = Holder.read(self.lease_path) or Holder("unknown", "unknown", None, "", time.time())
                        self.log(
                            f"the lease of '{self.directory}' was taken over by the sampler (pid {self._lost.pid}) "
                            f"on {self._lost.describe()}; this sampler stops before its next checkpoint write"
                        )
                        return
                    self._rewrite(self._lease_fd, self.token, self._acquired)
                except OSError as exc:
                    # A full disk or a file server away for a moment: the next
                    # beat tries again, and the lease stays ours until it is stale.
                    self.log(f"could not renew the lease '{self.lease_path}': {exc}")

    def verify(self) -> None:
        """Raise unless this sampler still holds the lease; called before every checkpoint write."""
        with self._record_lock:
            if self._lost is None and self._holds():
                return
            holder = self._lost or Holder.read(self.lease_path)
        other = f"the sampler (pid {holder.pid}) on {holder.describe()}" if holder else "another sampler"
        raise LeaseLostError(
            f"the lease of checkpoint '{self.directory}' was taken over by {other} while this sampler "
            f"(pid {os.getpid()} on host {self.host}) could not renew it for {self.lease_timeout_s:.0f} s "
            "(was the job suspended?); stopped without writing, the checkpoint is the other sampler's now"
        )

    def release(self) -> None:
        if self._fh is None:
            return
        self._stop.set()
        if self._heartbeat is not None:
            self._heartbeat.join()
            self._heartbeat = None
        if self._holds():
            self.lease_path.unlink(missing_ok=True)
        os.close(self._lease_fd)
        self._lease_fd = None
        fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
        self._fh.close()
        self._fh = None

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()
