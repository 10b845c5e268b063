"""Shared fixtures: the small public data releases in tests/data (see its MANIFEST.md), a local server for
them, and one finished workflow on JLA that every test reading results shares.

Large releases are not in the repository: tests that need them take ``shared_data`` (../shared/data on the
development machines), which skips them, saying why, where it is absent."""

import fcntl
import functools
import http.server
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PUBLIC_DATA = REPO / "tests" / "data"
SHARED_DATA = REPO.parent / "shared" / "data"


# The files that take longest (each runs whole workflows), longest first, as measured on 2 cores. pytest-xdist
# hands whole files to its workers in collection order (--dist loadfile): one of these collected last would leave
# the other worker idle for its length at the end of the suite.
LONGEST_FIRST = (
    "test_cli.py",
    "test_stale_results.py",
    "test_fuzz.py",
    "test_full_covariance.py",
    "test_bad_inputs.py",
    "test_workflow.py",
    "test_checkpoint_store.py",
    "test_checkpoint_lease.py",
    "test_resume_integrity.py",
    "test_evidence.py",
    "test_burn_in.py",
    "test_lightcurve.py",
    "test_cores.py",
)


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


@pytest.fixture(scope="session", autouse=True)
def no_slurm_controller_to_ask(request, tmp_path_factory):
    """Unless a selected test runs on SLURM, an ``scontrol`` that fails at once comes first on PATH.

    The SLURM executor plugin, once installed, runs ``scontrol show config``
    whenever Snakemake imports it; with SLURM's client installed and no
    controller to answer (after the slurm tests, or on a machine that has
    SLURM's tools but not its daemons) that waits about 10 s, on every
    Snakemake start of every test, and the suite takes half as long again.
    The tests that run Snakemake on the local executor never need it.
    """
    if any(item.get_closest_marker("slurm") for item in request.session.items):
        yield
        return
    stubs = tmp_path_factory.mktemp("no-slurm-controller")
    scontrol = stubs / "scontrol"
    scontrol.write_text("#!/bin/sh\necho 'no SLURM controller in the default tests (tests/conftest.py)' >&2\nexit 1\n")
    scontrol.chmod(0o755)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", str(stubs), prepend=os.pathsep)
        yield


@pytest.fixture
def scratch_registry():
    """Models a test defines register themselves; they are removed afterwards, whatever happens."""
    from janusfit.models import MODELS

    before = set(MODELS)
    yield
    for name in set(MODELS) - before:
        del MODELS[name]


@pytest.fixture(scope="session")
def public_data() -> Path:
    """The small public releases the tests read, committed under tests/data."""
    return PUBLIC_DATA


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Large public releases, kept outside the repository in ../shared/data; the test skips without them."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"needs large public data releases at {SHARED_DATA}, which is absent (see tests/data/MANIFEST.md)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server(public_data):
    """Base URL of an HTTP server for tests/data on an ephemeral port of the loopback interface.

    It stands in for the releases' real hosts, so downloads are tested with no network.
    """
    handler = functools.partial(QuietHandler, directory=str(public_data))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.fixture(scope="session")
def jla_run(tmp_path_factory, public_data) -> Path:
    """The real workflow, both models and both samplers on JLA binned, run once for the whole session.

    Under pytest-xdist each worker is a session of its own: the first to ask
    runs it in the run's shared temporary directory while the others wait on
    a lock, then all read the same results. Tests that use it only read its
    results (copy them before changing anything).
    """
    from snakemake_runner import run, write_config

    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    directory = shared / "jla_run"
    with open(shared / "jla_run.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (directory / "finished").exists():
            shutil.rmtree(directory, ignore_errors=True)
            directory.mkdir()
            write_config(
                directory,
                public_data,
                models=["janus", "lcdm"],
                # The progress figure a day into sampling: never, however loaded the machine.
                emcee={"max_steps": 4000, "checkpoint": {"steps": 500}, "progress": {"seconds": 86400}},
                dynesty={"nlive": 400, "dlogz": 0.1},
            )
            run(directory)
            (directory / "finished").touch()
    return directory


@pytest.fixture(scope="session")
def janusfit_cli():
    """Run the installed ``janusfit`` console script: ``janusfit_cli("status", path)`` -> CompletedProcess."""
    beside = Path(sys.executable).with_name("janusfit")
    script = str(beside) if beside.exists() else shutil.which("janusfit")
    if script is None:
        pytest.fail("the janusfit console script is not installed (pip install -e .)")

    def call(*args, cwd=None, timeout=120):
        return subprocess.run([script, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=timeout)

    return call
