"""download() against a real HTTP server on 127.0.0.1 serving tests/data (conftest.server)."""

import re

import numpy as np
import pytest

from janusfit.data import download, download_dataset, load_dataset
from janusfit.errors import ConfigError, DataError

LCPARAM = "union3/lcparam_full.txt"
COVMAT = "union3/mag_covmat.txt"


def manifest_sha256(public_data, relpath: str) -> str:
    """The sha256 MANIFEST.md lists for ``relpath`` (the last column of its row)."""
    for line in (public_data / "MANIFEST.md").read_text().splitlines():
        if line.startswith(f"| {relpath} |"):
            return line.strip(" |").split("|")[-1].strip()
    raise AssertionError(f"{relpath} is not in MANIFEST.md")


def test_download_with_right_checksum(server, public_data, tmp_path):
    dest = tmp_path / "sub" / "lcparam_full.txt"
    assert download(f"{server}/{LCPARAM}", dest, manifest_sha256(public_data, LCPARAM)) == dest
    assert dest.read_bytes() == (public_data / LCPARAM).read_bytes()
    assert [p.name for p in dest.parent.iterdir()] == ["lcparam_full.txt"]


def test_wrong_checksum_leaves_nothing(server, public_data, tmp_path):
    dest = tmp_path / "lcparam_full.txt"
    url = f"{server}/{LCPARAM}"
    wrong = "0" * 64
    got = manifest_sha256(public_data, LCPARAM)
    problem = f"{url} has sha256 {got}, expected {wrong}"
    with pytest.raises(DataError, match=re.escape(str(dest)) + ".*" + re.escape(problem)):
        download(url, dest, wrong)
    assert list(tmp_path.iterdir()) == []


def test_wrong_checksum_leaves_an_existing_file_untouched(server, tmp_path):
    dest = tmp_path / "lcparam_full.txt"
    dest.write_bytes(b"the previous, good version\n")
    with pytest.raises(DataError, match="expected " + "f" * 64):
        download(f"{server}/{LCPARAM}", dest, "f" * 64)
    assert dest.read_bytes() == b"the previous, good version\n"
    assert list(tmp_path.iterdir()) == [dest]


def test_http_error_leaves_nothing(server, tmp_path):
    dest = tmp_path / "x.txt"
    with pytest.raises(DataError, match=r"x\.txt.*download from .*/no/such/file failed: HTTP Error 404"):
        download(f"{server}/no/such/file", dest, "0" * 64)
    assert list(tmp_path.iterdir()) == []


def test_malformed_checksum(server, tmp_path):
    with pytest.raises(DataError, match="'abc' .* is not 64 hexadecimal digits"):
        download(f"{server}/{LCPARAM}", tmp_path / "x.txt", "abc")


def test_download_dataset_then_load_it(server, public_data, tmp_path):
    spec = {
        "kind": "sn",
        "format": "union3",
        "path": "data/lcparam_full.txt",
        "cov": "data/mag_covmat.txt",
        "url": f"{server}/{LCPARAM}",
        "sha256": manifest_sha256(public_data, LCPARAM),
        "cov_url": f"{server}/{COVMAT}",
        "cov_sha256": manifest_sha256(public_data, COVMAT).upper(),
    }
    written = download_dataset("union3", spec, tmp_path)
    # Into the content-addressed cache, since data/ holds no copy.
    assert written == [
        tmp_path / "resources/data" / spec["sha256"] / "lcparam_full.txt",
        tmp_path / "resources/data" / spec["cov_sha256"].lower() / "mag_covmat.txt",
    ]
    downloaded = load_dataset("union3", spec, tmp_path)
    original = load_dataset("union3", {**spec, "path": LCPARAM, "cov": COVMAT}, public_data)
    np.testing.assert_array_equal(downloaded.values, original.values)
    assert list(downloaded.sha256.values()) == list(original.sha256.values())


def test_download_dataset_needs_pinned_checksum(tmp_path):
    spec = {"kind": "sn", "format": "union3", "path": "a.txt", "url": "http://127.0.0.1:9/a.txt"}
    with pytest.raises(ConfigError, match=r"datasets\.u\.sha256.*required with 'url'"):
        download_dataset("u", spec, tmp_path)
