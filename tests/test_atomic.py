"""Crash-safe writes keep the permissions a new file gets under the user's umask.

Each case runs in a fresh interpreter whose umask is set before janusfit is
imported, as a cluster job's shell sets it: 0o027 (group may read, others
nothing) and 0o002 (a shared group project, group may write too).
"""

import stat
import subprocess
import sys
import textwrap

import pytest

WRITERS = textwrap.dedent("""
    import os, sys
    os.umask(int(sys.argv[2], 8))
    from pathlib import Path
    import h5py
    from janusfit.atomic import atomic_path, atomic_write_json
    from janusfit.sampling.store import commit
    out = Path(sys.argv[1])
    atomic_write_json(out / "summary.json", {"a": 1})
    with atomic_path(out / "chain.h5") as tmp:
        with h5py.File(tmp, "w") as f:
            f["x"] = [1.0]
    commit(out / "segment.npz", b"bytes")
""")


@pytest.mark.parametrize("umask, mode", [(0o027, 0o640), (0o002, 0o664)], ids=["umask027", "umask002"])
def test_atomic_writes_respect_the_umask(tmp_path, umask, mode):
    subprocess.run([sys.executable, "-c", WRITERS, str(tmp_path), oct(umask)[2:]], check=True)
    for name in ("summary.json", "chain.h5", "segment.npz", "segment.npz.sha256"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == mode, name
