"""Shared fixtures: the public data releases in ../shared/data (read, never copied)."""

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"public data releases not found at {SHARED_DATA} (the repository expects ../shared/data)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO
