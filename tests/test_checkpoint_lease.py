"""Two samplers on one checkpoint from two cluster nodes: the lease in ``<dir>.lease``.

On a cluster the flock on ``<dir>.lock`` may exclude only processes of the
same node. Each "node" here is a real sampler process in namespaces of its
own (``unshare``): its own host name, its own PID numbers (neither can see
the other's pid), and its own mount table, in which ``<dir>.lock`` is a
different file, so that flock does not exclude the other node, exactly as on
a file system whose locks are node-local. The checkpoint directory and the
lease are shared, as on NFS. Without the lease the second node's sampler
starts at once and writes beside the first.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
from snakemake_runner import HANG_GUARD_S
from test_checkpoint_store import (
    SAMPLER,
    Log,
    assert_same_chain,
    chain_arrays,
    jla_diagonal,
    run_emcee_in,
    segment_files,
    wait_for,
)

from janusfit.errors import CheckpointError
from janusfit.layout import refusal_path
from janusfit.likelihood import Posterior
from janusfit.models import get_model
from janusfit.sampling.lock import CheckpointLock

# Short enough for a test, and the same for both nodes, as the constant is on a cluster.
LEASE_S = 4.0


def namespaces_work() -> bool:
    probe = subprocess.run(["unshare", "--uts", "--pid", "--mount", "--fork", "true"], capture_output=True)
    return probe.returncode == 0


def start_on_node(tmp: Path, public_data: Path, node: str, job_id: str, max_steps: int) -> subprocess.Popen:
    """The sampler on "host" ``node`` in its own UTS, PID and mount namespaces, as SLURM job ``job_id``."""
    script = tmp / "sampler.py"
    if not script.exists():
        script.write_text(SAMPLER)
    private_lock = tmp / f"{node}.lockfile"
    private_lock.touch()
    (tmp / "ck.lock").touch()
    inner = (
        f"hostname {node} && mount --bind {private_lock} {tmp / 'ck.lock'} && "
        f"exec {sys.executable} {script} {Path(__file__).parent} {public_data} {tmp / 'ck'} "
        f"{tmp / (node + '.h5')} {max_steps} none {tmp / ('HOLD_' + node)} {LEASE_S}"
    )
    return subprocess.Popen(
        ["unshare", "--uts", "--pid", "--mount", "--fork", "sh", "-c", inner],
        stdout=open(tmp / f"{node}.out", "w"),
        stderr=open(tmp / f"{node}.err", "w"),
        cwd=tmp,
        env={**os.environ, "SLURM_JOB_ID": job_id},
    )


def lease(tmp: Path) -> dict:
    """The lease record; empty while there is none."""
    try:
        return json.loads((tmp / "ck.lease").read_text())
    except FileNotFoundError:
        return {}


def signal_tree(process: subprocess.Popen, signum: int) -> None:
    """``signum`` to the unshare process and the sampler it started."""
    for pid in [process.pid] + [c.pid for c in psutil.Process(process.pid).children(recursive=True)]:
        os.kill(pid, signum)


@pytest.fixture(scope="module")
def posterior(public_data) -> Posterior:
    return Posterior(get_model("lcdm"), [jla_diagonal(public_data)])


@pytest.fixture(scope="module")
def two_nodes(tmp_path_factory, public_data, posterior):
    """A on node-a holds the checkpoint; B on node-b waits, takes over once A is frozen, and finishes.

    A stalls after its first segment, B waits 3 lease timeouts while A
    renews; then A is frozen (SIGSTOP, as a suspended job or a hung node)
    and B takes over, stalling after its first likelihood call. A is then
    thawed and released: it must stop before writing. Last B is released
    and runs to the end.
    """
    if shutil.which("unshare") is None or not namespaces_work():
        pytest.skip("needs unshare with UTS, PID and mount namespaces (root on Linux)")
    tmp = tmp_path_factory.mktemp("two_nodes")
    for node in ("node-a", "node-b"):
        (tmp / f"HOLD_{node}").touch()
    a = start_on_node(tmp, public_data, "node-a", "101", 600)
    wait_for(lambda: segment_files(tmp) or a.poll() is not None, "A's first segment")
    a_lease = lease(tmp)
    b = start_on_node(tmp, public_data, "node-b", "102", 900)
    # B either waits, or (without a lease) starts at once and resumes from A's segment.
    wait_for(
        lambda: (
            any(s in (tmp / "node-b.out").read_text() for s in ("waiting for the sampler", "resuming"))
            or b.poll() is not None
        ),
        "B to wait",
    )
    renewals = [lease(tmp)["renewed"]]
    for _ in range(3):
        time.sleep(LEASE_S)
        renewals.append(lease(tmp)["renewed"])
    while_a_lives = {
        "segments": segment_files(tmp),
        "b_alive": b.poll() is None,
        "b_out": (tmp / "node-b.out").read_text(),
        "a_alive": a.poll() is None,
    }

    signal_tree(a, signal.SIGSTOP)
    wait_for(
        lambda: "taking over the lease" in (tmp / "node-b.out").read_text() or b.poll() is not None,
        "B to take over",
        timeout=HANG_GUARD_S,
    )
    wait_for(lambda: lease(tmp).get("host") == "node-b", "B's lease")
    b_lease = lease(tmp)
    signal_tree(a, signal.SIGCONT)
    segments_before_a_resumes = segment_files(tmp)
    (tmp / "HOLD_node-a").unlink()
    a.wait(timeout=HANG_GUARD_S)
    segments_after_a_stopped = segment_files(tmp)
    (tmp / "HOLD_node-b").unlink()
    b.wait(timeout=HANG_GUARD_S)
    reference = tmp / "reference"
    reference.mkdir()
    run_emcee_in(reference, posterior, max_steps=900)
    return {
        "dir": tmp,
        "a": a,
        "b": b,
        "a_lease": a_lease,
        "b_lease": b_lease,
        "renewals": renewals,
        "while_a_lives": while_a_lives,
        "before": segments_before_a_resumes,
        "after": segments_after_a_stopped,
        "reference": chain_arrays(reference / "chain.h5"),
    }


def test_sampler_on_another_node_waits_while_the_lease_is_renewed(two_nodes):
    tmp, state = two_nodes["dir"], two_nodes["while_a_lives"]
    a_lease = two_nodes["a_lease"]
    assert a_lease["host"] == "node-a" and a_lease["slurm_job_id"] == "101"
    assert state["a_alive"] and state["b_alive"], (tmp / "node-b.err").read_text()
    # Each node sees only its own PID namespace: A's pid is the one inside it.
    assert (
        f"waiting for the sampler holding '{tmp / 'ck.lock'}' (pid {a_lease['pid']}) on host node-a, "
        f"SLURM job 101 to finish"
    ) in state["b_out"]
    assert f"is taken over if not renewed for {LEASE_S:.0f} s" in state["b_out"]
    # A renewed its lease while B waited, and B wrote nothing: A's one segment is all there is.
    renewals = two_nodes["renewals"]
    assert all(later > earlier for earlier, later in zip(renewals, renewals[1:]))
    assert [p.name for p in state["segments"]] == ["seg_0000000000_0000000050.npz"]
    assert "resuming" not in state["b_out"] and "taking over" not in state["b_out"]


def test_a_lease_not_renewed_for_the_timeout_is_taken_over(two_nodes):
    tmp, b_lease = two_nodes["dir"], two_nodes["b_lease"]
    out = (tmp / "node-b.out").read_text()
    a_pid = two_nodes["a_lease"]["pid"]
    assert (
        f"taking over the lease of '{tmp / 'ck'}' from the sampler (pid {a_pid}) on host node-a, "
        f"SLURM job 101: not renewed for"
    ) in out
    assert b_lease["host"] == "node-b" and b_lease["slurm_job_id"] == "102"
    assert "resuming from checkpoint at iteration 50" in out


def test_a_frozen_holder_whose_lease_was_taken_stops_without_writing(two_nodes):
    tmp, a = two_nodes["dir"], two_nodes["a"]
    assert a.returncode == 1
    err = (tmp / "node-a.err").read_text()
    b_pid = two_nodes["b_lease"]["pid"]
    assert err.startswith(
        f"the lease of checkpoint '{tmp / 'ck'}' was taken over by the sampler (pid {b_pid}) "
        "on host node-b, SLURM job 102 while this sampler"
    )
    assert "stopped without writing" in err
    # Not a refusal: the checkpoint is the other node's, which goes on with it.
    assert not refusal_path(tmp / "ck").exists()
    assert two_nodes["after"] == two_nodes["before"]
    assert not (tmp / "node-a.h5").exists()


def test_the_node_that_took_over_finishes_the_chain_bit_for_bit(two_nodes):
    tmp, b = two_nodes["dir"], two_nodes["b"]
    assert b.returncode == 0, (tmp / "node-b.err").read_text()
    bounds = [(int(p.name[4:14]), int(p.name[15:25])) for p in segment_files(tmp)]
    assert [s for s, _ in bounds] == [0] + [e for _, e in bounds[:-1]] and bounds[-1][1] == 900
    assert (tmp / "ck/resumes.json").read_text().split() == ["[", "50", "]"]
    assert not (tmp / "ck/segments/quarantine").exists()
    assert not (tmp / "ck.lease").exists()  # released at the end
    assert_same_chain(chain_arrays(tmp / "node-b.h5"), two_nodes["reference"])


# --- the lease alone, in this process: a foreign host written into the record ---


def foreign_record(path: Path, renewed: float) -> None:
    path.write_text(
        json.dumps(
            {
                "host": "node-z.cluster",
                "pid": 4242,
                "slurm_job_id": "777",
                "token": "f00d",
                "acquired": renewed,
                "renewed": renewed,
            }
        )
    )


def test_a_fresh_foreign_lease_times_out_naming_host_pid_and_job(tmp_path):
    foreign_record(tmp_path / "ck.lease", time.time())
    lock = CheckpointLock(tmp_path / "ck", timeout_s=1.0, poll_s=0.05, log=Log())
    with pytest.raises(CheckpointError) as err:
        lock.acquire()
    assert str(err.value).startswith(
        f"checkpoint '{tmp_path / 'ck'}' is locked by another sampler (pid 4242) "
        "still running on host node-z.cluster, SLURM job 777"
    )
    assert json.loads((tmp_path / "ck.lease").read_text())["token"] == "f00d"  # untouched


def test_a_foreign_lease_renewed_by_its_holder_is_never_taken(tmp_path):
    """Renewed every 0.2 s for 3 s against a 2 s timeout: the waiter never takes it, then gets it once released."""
    path = tmp_path / "ck.lease"
    foreign_record(path, time.time())
    done = threading.Event()

    def holder():
        for _ in range(15):
            time.sleep(0.2)
            foreign_record(path, time.time())
        done.set()
        path.unlink()

    thread = threading.Thread(target=holder)
    thread.start()
    log = Log()
    with CheckpointLock(tmp_path / "ck", poll_s=0.05, lease_timeout_s=2.0, log=log) as lock:
        assert done.is_set() and not log.has("taking over")
        assert json.loads(path.read_text())["token"] == lock.token
    thread.join()


def test_a_stale_or_unreadable_lease_is_taken_over(tmp_path):
    """An unreadable record: not JSON, or bytes that are not UTF-8 (the audit's case, an 'unexpected
    error: UnicodeDecodeError' traceback in the sampler's log before)."""
    for content in ("stale", "garbage", "not_utf8"):
        path = tmp_path / "ck.lease"
        if content == "stale":
            foreign_record(path, time.time() - 10)
        else:
            path.write_bytes(b"{not json" if content == "garbage" else b"garbage\x00\xff{")
            os.utime(path, (time.time() - 10, time.time() - 10))
        log = Log()
        with CheckpointLock(tmp_path / "ck", poll_s=0.05, lease_timeout_s=5.0, log=log) as lock:
            record = json.loads(path.read_text())
            assert record["token"] == lock.token and record["pid"] == os.getpid()
        # 10 s old when written; a slow disk can make it a second older by the time it is read.
        age = re.search(r"not renewed for (\d+) s \(more than 5 s\)", "\n".join(log))
        assert log.has("taking over the lease") and age and 10 <= int(age[1]) <= 70, content
        assert not path.exists()


def test_verify_fails_once_the_lease_is_someone_elses(tmp_path):
    with CheckpointLock(tmp_path / "ck", heartbeat_s=0.05, log=Log()) as lock:
        lock.verify()
        foreign_record(tmp_path / "ck.lease", time.time())
        with pytest.raises(CheckpointError, match=r"taken over by the sampler \(pid 4242\) on host node-z.cluster"):
            lock.verify()
    # The other holder's lease is left alone on release.
    assert json.loads((tmp_path / "ck.lease").read_text())["token"] == "f00d"


def test_a_renewal_frozen_midway_does_not_put_its_record_back_over_the_lease_taken_over(tmp_path, monkeypatch):
    """A holder frozen inside a renewal while another node takes its lease over: SIGSTOP lands on any instruction.

    The other node's take-over runs inside the holder's renewal, at the renewal's
    flush to disk. Thawed, the holder must leave the new lease alone and find
    that it lost its own; before the fix its renewal replaced the lease by its
    own record, and both samplers went on writing the checkpoint.
    """
    a_log, b_log = Log(), Log()
    a = CheckpointLock(tmp_path / "ck", heartbeat_s=0.05, log=a_log)
    b = CheckpointLock(tmp_path / "ck", poll_s=0.01, lease_timeout_s=0.0, heartbeat_s=0.05, log=b_log)
    b.host = "node-b"
    b.path = tmp_path / "node-b.lock"  # flock is node-local: node-b's does not see node-a's
    real_fsync = os.fsync
    took_over = threading.Event()

    def fsync_with_a_take_over(fd):
        if threading.current_thread() is a._heartbeat and not took_over.is_set():
            took_over.set()
            b.acquire()
        real_fsync(fd)

    a.acquire()
    monkeypatch.setattr(os, "fsync", fsync_with_a_take_over)
    try:
        wait_for(lambda: a_log.has("was taken over") or b_log.has("was taken over"), "one of them to lose the lease")
        assert b_log.has("taking over the lease")
        assert json.loads((tmp_path / "ck.lease").read_text())["token"] == b.token
        assert a_log.has("was taken over by the sampler") and a_log.has("on host node-b")
        b.verify()
        with pytest.raises(CheckpointError, match=r"taken over by the sampler \(pid \d+\) on host node-b"):
            a.verify()
    finally:
        a.release()
        b.release()
    assert not (tmp_path / "ck.lease").exists()  # B released its own lease; A left it alone


def test_a_lease_file_gone_stale_on_the_file_server_is_lost_not_an_error(tmp_path, monkeypatch):
    """On NFS, a take-over from another node deletes the holder's file on the server: its descriptor turns ESTALE."""
    log = Log()
    lock = CheckpointLock(tmp_path / "ck", heartbeat_s=0.05, log=log)
    lock.acquire()
    try:
        ours = lock._lease_fd
        real_fstat = os.fstat

        def fstat(fd):
            if fd == ours:
                raise OSError(errno.ESTALE, os.strerror(errno.ESTALE))
            return real_fstat(fd)

        monkeypatch.setattr(os, "fstat", fstat)
        wait_for(lambda: log.has("was taken over"), "the heartbeat to find the lease lost")
        with pytest.raises(CheckpointError, match="stopped without writing"):
            lock.verify()
    finally:
        monkeypatch.undo()
        lock.release()
    assert not log.has("could not renew")
