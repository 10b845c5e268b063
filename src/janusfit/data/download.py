"""Fetch a data release pinned by its sha256, all or nothing.

The bytes stream into a temporary file beside the destination while their
checksum is computed; only when it matches the expected one is the file fsynced
and renamed into place. A wrong checksum, a network error or a kill therefore
never leaves a partial or unexpected file where a dataset is read from, and
never replaces a file that was already there.
"""

from __future__ import annotations

import hashlib
import http.client
import re
import urllib.error
import urllib.request
from pathlib import Path

from ..atomic import atomic_path, sha256_file
from ..errors import DataError
from .sources import resolve_path, sources

CHUNK = 1 << 20
SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def download(url: str, dest, sha256: str, timeout: float = 60) -> Path:
    """Download ``url`` to ``dest`` if its sha256 is ``sha256``; returns ``dest``."""
    dest = Path(dest)
    expected = str(sha256).strip().lower()
    if not SHA256_HEX.fullmatch(expected):
        raise DataError(dest, f"expected sha256 {sha256!r} for {url} is not 64 hexadecimal digits")
    with atomic_path(dest) as tmp:
        got = _fetch(url, dest, tmp, timeout)
        if got != expected:
            raise DataError(
                dest,
                f"download from {url} has sha256 {got}, expected {expected}; "
                f"nothing was written to {dest}",
            )
    return dest


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
            if not (target.is_file() and sha256_file(target) == source.sha256):
                download(source.url, target, source.sha256)
            written.append(target)
    return written
