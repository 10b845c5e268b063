"""Fetch a data release pinned by its sha256, all or nothing.

The bytes stream into a temporary file beside the destination while their
checksum is computed; only when it matches the expected one is the file fsynced
and renamed into place. A wrong checksum, a network error or a kill therefore
never leaves a partial or unexpected file where a dataset is read from, and
never replaces a file that was already there.

A file with no published checksum (pin ``record``) is verified by what it
holds instead: a covariance must read as one in the releases' layout (N,
then N² finite values, symmetric to rounding), a data file as a table. Only
then is it put in place and its sha256 recorded beside it, and every later
download of it must have that checksum.
"""

from __future__ import annotations

import hashlib
import http.client
import re
import urllib.error
import urllib.request
from pathlib import Path

from ..atomic import atomic_path, atomic_write_bytes, sha256_file
from ..errors import DataError
from .loaders import read_covariance, read_table
from .sources import RECORD, record_of, recorded_sha256, resolve_path, sources
from .validate import require_symmetric

CHUNK = 1 << 20
SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def download(url: str, dest, sha256: str, timeout: float = 60, key: str = "path") -> Path:
    """Download ``url`` to ``dest`` if its sha256 is ``sha256``; returns ``dest``.

    With ``sha256="record"`` the bytes are checked against the checksum
    recorded beside ``dest`` by an earlier download, or, at the first
    download, verified as the file of config key ``key`` (``path``, ``cov``)
    and their checksum recorded.
    """
    dest = Path(dest)
    expected = str(sha256).strip().lower()
    if expected == RECORD:
        return _download_recorded(url, dest, timeout, key)
    if not SHA256_HEX.fullmatch(expected):
        raise DataError(dest, f"expected sha256 {sha256!r} for {url} is not 64 hexadecimal digits")
    with atomic_path(dest) as tmp:
        got = _fetch(url, dest, tmp, timeout)
        if got != expected:
            raise DataError(
                dest,
                f"download from {url} has sha256 {got}, expected {expected}; nothing was written to {dest}",
            )
    return dest


def _download_recorded(url: str, dest: Path, timeout: float, key: str) -> Path:
    record = record_of(dest)
    expected = recorded_sha256(record)
    with atomic_path(dest) as tmp:
        got = _fetch(url, dest, tmp, timeout)
        if expected and got != expected:
            raise DataError(
                dest,
                f"download from {url} has sha256 {got}, but its first verified download recorded "
                f"{expected} in {record}; the release changed, or this is not the same file. "
                f"Nothing was written to {dest}; to accept the new bytes, delete {record}",
            )
        if not expected:
            _verify(url, tmp, dest, key)
            # Recorded before the file is renamed into place: a kill in between
            # leaves a record that the next download is checked against.
            atomic_write_bytes(record, f"{got}  {dest.name}\n".encode())
    return dest


def _verify(url: str, tmp: Path, dest: Path, key: str) -> None:
    """The bytes read as what config key ``key`` declares, or a DataError naming ``dest``."""
    what = "covariance" if key == "cov" else "table"
    try:
        if key == "cov":
            require_symmetric(tmp, read_covariance(tmp))
        else:
            read_table(tmp)
    except DataError as exc:
        raise DataError(
            dest,
            f"first download from {url} does not read as a {what} ({exc.problem}); nothing was "
            "written and no checksum recorded",
        ) from None


def _fetch(url: str, dest: Path, tmp: Path, timeout: float) -> str:
    """Stream ``url`` into ``tmp``; returns the sha256 of the bytes written."""
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as out:
            for block in iter(lambda: response.read(CHUNK), b""):
                digest.update(block)
                out.write(block)
    except (urllib.error.URLError, http.client.HTTPException, TimeoutError, ConnectionError) as exc:
        raise DataError(dest, f"download from {url} failed: {exc}") from exc
    return digest.hexdigest()


def download_dataset(name: str, spec: dict, base_dir=None) -> list[Path]:
    """Download a configured dataset's files that have no local copy into the download cache; returns them.

    Each URL needs its pinned checksum (``sha256``, ``cov_sha256``): an
    unpinned download could silently change the data a result was computed on.
    A file already in the cache is checked against its pin and kept.
    """
    base_dir = Path.cwd() if base_dir is None else Path(base_dir)
    written = []
    for source in sources(name, spec, base_dir):
        target = resolve_path(source.file, base_dir)
        if source.downloaded:
            if not (source.sha256 and target.is_file() and sha256_file(target) == source.sha256):
                download(source.url, target, RECORD if source.recorded else source.sha256, key=source.key)
            written.append(target)
    return written
