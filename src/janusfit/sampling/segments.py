"""The checkpoint of an emcee chain: committed segment files, read back in order.

Each segment (``seg_<start>_<end>.npz`` with its sha256 sidecar, see
:mod:`.store`) holds the steps ``start``–``end`` of the chain and the
ensemble's state at its end: positions, log-probabilities, the random state and
the stopping rule's decisions. Resuming reads the segments in order and stops
at the first one that fails its checksum, moving it and all later ones aside.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import numpy as np

from .store import clean_partial, commit, quarantine, verified

SEGMENT = re.compile(r"^seg_(\d{10})_(\d{10})\.npz$")


def _segment_name(start: int, end: int) -> str:
    return f"seg_{start:010d}_{end:010d}.npz"


def encode_segment(chain, log_prob, accepted, random_state, rule) -> bytes:
    """One segment file: its steps and the end state, including the stopping rule's (a ``StoppingRule``) decisions so far."""
    name, keys, pos, has_gauss, cached = random_state
    buf = io.BytesIO()
    np.savez(
        buf,
        chain=chain,
        log_prob=log_prob,
        accepted=accepted,
        rs_name=np.array(name),
        rs_keys=keys,
        rs_pos=np.array(pos),
        rs_has_gauss=np.array(has_gauss),
        rs_cached=np.array(cached),
        last_tau=np.asarray(rule.last_tau, dtype=float),
        tau_history=np.asarray(rule.tau_history, dtype=float).reshape(-1, 2),
        stop_reason=np.array(rule.stop_reason),
        stop_rule=np.array(json.dumps(rule.settings.stop_rule(), sort_keys=True)),
    )
    return buf.getvalue()


def _decode_state(npz) -> dict:
    """The end state a segment carries, as :meth:`SegmentChain.state` returns it."""
    return {
        "coords": npz["chain"][-1],
        "log_prob": npz["log_prob"][-1],
        "random_state": (
            str(npz["rs_name"]),
            npz["rs_keys"],
            int(npz["rs_pos"]),
            int(npz["rs_has_gauss"]),
            float(npz["rs_cached"]),
        ),
        "last_tau": npz["last_tau"],
        "tau_history": [tuple(r) for r in npz["tau_history"]],
        "stop_reason": str(npz["stop_reason"]),
        # Segments written before the rule was recorded have none: their decisions are taken again.
        "stop_rule": json.loads(str(npz["stop_rule"])) if "stop_rule" in npz.files else None,
    }


class SegmentChain:
    """The committed segments of one chain, in order.

    ``guard`` is called before each segment is written, and raises when this
    sampler may no longer write (its checkpoint lease was taken over).
    """

    def __init__(self, directory: Path, log=print, guard=lambda: None):
        self.dir = Path(directory)
        self.log = log
        self.guard = guard
        self.dir.mkdir(parents=True, exist_ok=True)
        clean_partial(self.dir, "seg_*.npz")
        self.paths = self._load()

    def _load(self) -> list[Path]:
        """Good segments from iteration 0 on; a bad one ends the chain there."""
        found = {}
        for path in self.dir.glob("seg_*.npz"):
            m = SEGMENT.match(path.name)
            if m:
                found.setdefault(int(m.group(1)), []).append((int(m.group(2)), path))
        good, it, damaged = [], 0, False
        while it in found:
            end, path = max(found.pop(it))
            if not verified(path) or not self._readable(path):
                quarantine(path, "fails its checksum or cannot be read", self.log)
                damaged = True
                break
            good.append(path)
            it = end
        for rest in found.values():
            for _, path in rest:
                if path not in good:
                    quarantine(path, "comes after a missing or bad segment", self.log)
                    damaged = True
        if damaged:
            self.log(
                f"resuming from the good segments before it, at step {it}"
                if good
                else "no good segment is left: the chain starts afresh from step 0"
            )
        return good

    @staticmethod
    def _readable(path: Path) -> bool:
        try:
            with np.load(path) as npz:
                return npz["chain"].ndim == 3 and len(npz["chain"]) > 0
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            return False

    @property
    def ends(self) -> list[int]:
        """The iteration each segment ends at."""
        return [int(SEGMENT.match(p.name).group(2)) for p in self.paths]

    @property
    def iteration(self) -> int:
        return self.ends[-1] if self.paths else 0

    def state(self, index: int = -1) -> dict | None:
        """The ensemble's state at the end of segment ``index`` (default: the last), None if there is none."""
        if not self.paths:
            return None
        with np.load(self.paths[index]) as npz:
            return _decode_state(npz)

    def iter_arrays(self, count: int | None = None):
        """(chain, log_prob, accepted) of each segment (of the first ``count``), one at a time."""
        for path in self.paths[:count]:
            with np.load(path) as npz:
                yield npz["chain"], npz["log_prob"], npz["accepted"]

    def append(self, start: int, data: bytes, end: int) -> None:
        path = self.dir / _segment_name(start, end)
        self.guard()
        commit(path, data)
        self.paths.append(path)
