"""Crash-safe file writes: a reader sees the old file or the new one, never half.

Every output and checkpoint janusfit writes goes through here: the bytes go to
a temporary file in the same directory, are flushed and fsynced, and the file
is renamed over its final name (rename is atomic on POSIX file systems), then
the directory is fsynced so that the rename itself survives a power cut. The
file gets the permissions of any new file under the process's umask
(``tempfile.mkstemp`` alone would leave it readable by its owner only, and a
group sharing a cluster project could not read the results).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import tempfile
from pathlib import Path

from .errors import JanusfitError


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def _umask() -> int:
    """The process's umask (reading it means setting it: set it back at once)."""
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


# Read once: the umask is set by the user's shell or the cluster's job
# environment before janusfit starts, and reading it is not thread-safe.
NEW_FILE_MODE = 0o666 & ~_umask()


def fsync_dir(directory) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; on success it replaces ``path``.

    For writers that need a file name (matplotlib, h5py). The temporary file
    keeps the suffix, so format detection by extension still works. On any
    error the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    try:
        with no_space_left(path):
            yield Path(tmp)
            with open(tmp, "rb+") as fh:
                os.fchmod(fh.fileno(), NEW_FILE_MODE)
                os.fsync(fh.fileno())
            os.replace(tmp, path)
            fsync_dir(path.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def no_space_left(path):
    """Turn a full disk while writing ``path`` into an error that names ``path``.

    Python's own ENOSPC error names no file (and h5py's names only the
    temporary one), so the job's log would not say which write failed. Every
    writer here writes beside its target and renames last, so whatever was at
    ``path`` before is still there.
    """
    try:
        yield
    except OSError as exc:
        if exc.errno != errno.ENOSPC:
            raise
        raise JanusfitError(
            f"no space left on the device while writing '{path}'; the previous version of "
            f"the file (and every earlier checkpoint) is intact. Free disk space and rerun."
        ) from exc


def atomic_write_bytes(path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()


def atomic_write_json(path, obj) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=False) + "\n").encode())
