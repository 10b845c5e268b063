"""Shared fixtures: the public data releases in ../shared/data (read, never copied), and a local server for them."""

import functools
import http.server
import threading
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


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server(shared_data):
    """Base URL of an HTTP server for ../shared/data on an ephemeral port of the loopback interface.

    It stands in for the releases' real hosts, so downloads are tested with no network.
    """
    handler = functools.partial(QuietHandler, directory=str(shared_data))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join()
