"""Checksummed checkpoint files with generations, and quarantine of bad ones.

Every checkpoint file ``F`` has a sidecar ``F.sha256`` holding the sha256 of its
content. The sidecar is committed first and the file second (each by an atomic
rename), so a file with no sidecar never exists and a sidecar with no file is a
write that was cut short. A file that fails its checksum or cannot be parsed is
moved to ``quarantine/`` (kept for inspection, never deleted) and the caller
falls back to the previous generation; one the system refuses to read is left
in place and named.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from ..atomic import atomic_write_bytes, sha256_bytes, sha256_file
from ..errors import CheckpointError

FINGERPRINT = "fingerprint.json"  # what a checkpoint was made with (:mod:`.fingerprint`)


def commit(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` with its checksum, crash-safely."""
    atomic_write_bytes(_sidecar(path), (sha256_bytes(data) + "\n").encode())
    atomic_write_bytes(path, data)


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def verified(path: Path) -> bool:
    """True when ``path`` and its sidecar exist and the checksum matches.

    A file the system will not read (no permission, an I/O error) is no
    damage: its bytes may be good, and setting it aside would discard the work
    it and every later file hold. That raises, naming the file, and leaves
    everything in place.
    """
    side = _sidecar(path)
    try:
        expected = side.read_text().strip()
        return bool(expected) and sha256_file(path) == expected
    except (FileNotFoundError, UnicodeDecodeError):  # a write cut short; a sidecar that is not a checksum
        return False
    except OSError as exc:
        raise refused_to_read(exc, path) from None


def refused_to_read(exc: OSError, path: Path) -> CheckpointError:
    """The error for a checkpoint file the system will not read: its bytes may be good, so nothing is set aside."""
    return CheckpointError(
        f"checkpoint file '{exc.filename or path}' cannot be read ({exc.strerror or exc}); it and the "
        "checkpoint were left in place. Give janusfit read access to it (or mend the disk) and rerun Snakemake "
        "to resume."
    )


def quarantine(path: Path, reason: str, log=print) -> Path:
    """Move ``path`` (and its sidecar) aside into ``quarantine/``; return the new place."""
    qdir = path.parent / "quarantine"
    qdir.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    # A file name can come back (a recomputed segment, a reused generation
    # number) and go bad again within the same second: a counter keeps the
    # earlier quarantined copy from being overwritten.
    suffix, n = f".{stamp}", 0
    while (qdir / f"{path.name}{suffix}").exists():
        n += 1
        suffix = f".{stamp}.{n}"
    target = qdir / f"{path.name}{suffix}"
    for src, dst in ((path, target), (_sidecar(path), qdir / f"{_sidecar(path).name}{suffix}")):
        if src.exists():
            shutil.move(src, dst)
    log(f"checkpoint file '{path}' {reason}; moved aside to '{target}'")
    return target


def set_aside(path: Path) -> Path:
    """Move a file that cannot be read beside itself, ``<name>.damaged-<time>-<pid>`` (kept, never deleted)."""
    target = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}")
    os.replace(path, target)
    return target


def set_aside_if_unreadable(path, problem_of, *, what: str, then: str) -> str | None:
    """Set ``path`` aside if ``problem_of(path)`` says why it cannot be read; returns what was done, for the log."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        problem = problem_of(path)
    except BlockingIOError as exc:  # HDF5's lock: a process has it open for writing, which is no damage
        return f"{what} '{path}': the file is open for writing in another process ({exc}); it was left in place"
    if problem is None:
        return None
    return f"{what} '{path}' cannot be read ({problem}); it was moved to '{set_aside(path)}', and {then}"


def set_aside_damaged(path, damage: str, *, what: str, then: str) -> str:
    """Set aside a file a reader found damaged; the message says so (another reader may have moved it first)."""
    try:
        moved = f"it was moved to '{set_aside(Path(path))}'"
    except FileNotFoundError:
        moved = "another job has moved it aside"
    return f"{what} '{path}': {damage}; {moved}. To go on, {then}"


def clean_partial(directory: Path, pattern: str) -> None:
    """Remove sidecars whose file never arrived and temporary files of cut writes.

    Both are leftovers of a write that was killed before it committed; neither
    holds data that was ever part of a checkpoint.
    """
    for side in directory.glob(pattern + ".sha256"):
        if not side.with_name(side.name[: -len(".sha256")]).exists():
            side.unlink()
    for tmp in directory.glob(".*.tmp*"):
        tmp.unlink()


def supersede(checkpoint_dir: Path, why: str, log=print, keep=lambda name: False) -> Path:
    """Move a checkpoint directory aside so a new run can start; nothing is deleted.

    ``why`` says in the log what is wrong with it: "it was made with different
    inputs (…)". Entries whose name ``keep`` accepts stay where they are (the
    checkpoints of dynesty's later repeats, inside the first run's, which are
    checked on their own); the others move one by one, the fingerprint last,
    so that a kill between two moves leaves samples without a fingerprint,
    which are never resumed.
    """
    stamp = time.strftime("%Y%m%dT%H%M%S")
    target = checkpoint_dir.with_name(f"{checkpoint_dir.name}.superseded-{stamp}-{os.getpid()}")
    kept = sorted(p for p in checkpoint_dir.iterdir() if keep(p.name))
    if not kept:
        os.replace(checkpoint_dir, target)
    else:
        target.mkdir()
        for entry in sorted(
            (p for p in checkpoint_dir.iterdir() if not keep(p.name)), key=lambda p: p.name == FINGERPRINT
        ):
            os.replace(entry, target / entry.name)
    left = ", ".join(p.name for p in kept if p.is_dir())
    left = f" ({left} left in place: each is checked on its own)" if left else ""
    log(f"on_change is 'restart' and {why}: the old checkpoint was moved to '{target}'{left}")
    return target
