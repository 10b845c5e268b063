"""Third-party packages imported without the optional parts janusfit never uses.

Every workflow job is a fresh Python process, so what it imports is paid per
job. Two packages import a heavy optional dependency at import time only to
offer a feature janusfit does not use: emcee imports ``scipy.stats`` (1–2 s)
for its KDE move, and corner imports ArviZ (1.5–2 s, with xarray) for its
``arviz_corner``. Both guard that import with ``try/except ImportError``, so
importing them while the dependency is marked absent gives the same package
without the feature; the mark is removed at once, so a later ``import
scipy.stats`` or ``import arviz`` in the same process works as usual.
"""

from __future__ import annotations

import importlib
import sys
from contextlib import contextmanager


@contextmanager
def without(*names: str):
    """Imports inside the block see the named modules as not installed, unless already imported."""
    absent = [n for n in names if n not in sys.modules]
    for name in absent:
        sys.modules[name] = None
    try:
        yield
    finally:
        for name in absent:
            if sys.modules.get(name, 0) is None:
                del sys.modules[name]


def import_emcee():
    """emcee without ``scipy.stats``: only its ``KDEMove`` needs it, and janusfit offers no KDE move."""
    with without("scipy.stats"):
        return importlib.import_module("emcee")


def import_corner():
    """corner without ArviZ: only its ``arviz_corner`` needs it; janusfit passes corner plain arrays."""
    with without("arviz"):
        return importlib.import_module("corner")
