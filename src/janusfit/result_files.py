"""Reading back the JSON files the workflow wrote, naming one that no longer reads.

janusfit writes every file atomically, so a file cut short or garbled was
damaged after it was written (a full disk, an edit, a copy that stopped).
Snakemake sees a file that exists and does not remake it: each reader says
which file it is and that deleting it makes the workflow write it again,
where a JSON traceback named neither, and came back at every run.
"""

from __future__ import annotations

import json
from pathlib import Path

from .errors import JanusfitError


class DamagedResult(JanusfitError):
    """A results file that does not read as what the workflow writes; the message names it."""


def read_result(path) -> dict | list:
    """A JSON results file, or DamagedResult naming it (cut short, edited)."""
    try:
        return json.loads(Path(path).read_text())
    except ValueError as exc:
        raise DamagedResult(
            f"'{path}' is not valid JSON ({exc}): the file was cut short or edited; delete it and rerun the "
            "workflow, which writes it again"
        ) from None
