"""Earlier results, marked or moved aside when the workflow stops before it remakes them.

The overview and the report are made last, from every run's summary. When a
rerun stops on the way (data edited and the emcee job refusing its checkpoint,
a failed job), Snakemake has already removed the outputs of the jobs it
reran, and leaves the pages made from them: ``overview.html`` and
``report.html`` then show numbers of inputs that are gone, and nothing on them
said so. The workflow's ``onerror`` handler marks them with a banner naming
the runs that are no longer done; a finished workflow writes them afresh,
without it.

The tables and exports users open in their own tools (``summary.json``, the
GetDist and ArviZ files, the comparison, the LaTeX table) can carry no such
banner, so the handler moves those made from earlier results aside, to
``<name>.earlier``: read as current, they would be silently wrong; moved,
they are neither read as current nor lost. The workflow remakes them in place.
"""

from __future__ import annotations

import html
import os
import re
import shutil
from pathlib import Path

from ..atomic import atomic_write_bytes
from ..layout import (
    COMPARISON,
    CONSTRAINTS_TABLE,
    EXPORT,
    OVERVIEW_CSV,
    SUMMARY,
    NotAResultsRoot,
    configured_runs,
)
from ..status import DONE, results_status

EARLIER = ".earlier"
# A dataset's files made from the summaries of all its runs (the CSV is the comparison rule's, for other tools).
DATASET_TABLES = (COMPARISON, "comparison.csv", CONSTRAINTS_TABLE)

BANNER_ID = "janusfit-stale"
_BANNER = re.compile(rf'<div id="{BANNER_ID}".*?</div>\n?', re.S)
_BODY = re.compile(r"<body\b[^>]*>", re.I)


def stale_runs(root) -> list[str]:
    """The runs ``overview.csv`` shows whose results have changed since: not done, gone, or summarised after it.

    Called by the workflow's ``onerror`` handler, it never raises on what it
    reads: an ``overview.csv`` janusfit did not write marks nothing, and a
    results directory whose runs are all gone marks every run it shows.
    """
    root = Path(root)
    try:
        shown = configured_runs(root)
    except NotAResultsRoot:
        return []
    if not shown:
        return []
    written = (root / OVERVIEW_CSV).stat().st_mtime
    try:
        statuses, _ = results_status(root)
    except NotAResultsRoot:
        statuses = []
    current = {
        st.run
        for st in statuses
        if st.state == DONE
        and (root / st.run / SUMMARY).is_file()
        and (root / st.run / SUMMARY).stat().st_mtime <= written
    }
    return sorted({f"{dataset}/{model}" for dataset, model in shown} - current)


def mark_stale(pages, runs: list[str], root) -> list[Path]:
    """Put a banner naming ``runs`` at the top of each page of ``pages`` that exists; the pages marked."""
    banner = (
        f'<div id="{BANNER_ID}" style="position:sticky;top:0;z-index:100000;background:#b00020;color:#fff;'
        'padding:10px 16px;font:15px/1.4 sans-serif">'
        "<b>Earlier results.</b> The workflow stopped before it remade this page: what it shows of "
        + html.escape(", ".join(runs))
        + " is from before the inputs last changed (the rerun stopped, or refused a checkpoint). "
        + html.escape(f"`janusfit status {root}` says why; the finished workflow writes this page afresh.")
        + "</div>\n"
    )
    marked = []
    for page in map(Path, pages):
        if not page.exists():
            continue
        text = _BANNER.sub("", page.read_text(encoding="utf-8"), count=1)
        body = _BODY.search(text)
        at = body.end() if body else 0
        atomic_write_bytes(page, (text[:at] + banner + text[at:]).encode())
        marked.append(page)
    return marked


def earlier_exports(root) -> list[Path]:
    """The tables and exports under ``root`` made from results that are no longer current.

    A run's ``summary.json`` and ``export/`` when the run is not done (its
    samples refused, removed or cut short since), its ``export/`` when older
    than its summary; a dataset's comparison and LaTeX table when one of the
    runs they show is not done (a run of ``overview.csv``, or one that was
    summarised: not a model just added), or they are older than one of its
    runs' summaries. Called once the workflow's jobs have ended: its own
    Snakemake, still alive, makes ``janusfit status`` call the runs it
    stopped running.
    """
    root = Path(root)
    try:
        statuses, _ = results_status(root)
        shown = set(configured_runs(root) or ())
    except NotAResultsRoot:
        return []
    found, unfinished, newest = [], set(), {}
    for st in statuses:
        dataset, model = st.run.split("/", 1)
        run_dir = root / st.run
        if st.state == DONE:
            made = (run_dir / SUMMARY).stat().st_mtime
            newest[dataset] = max(newest.get(dataset, 0.0), made)
            if _older(run_dir / EXPORT, made):
                found.append(run_dir / EXPORT)
            continue
        found += [run_dir / SUMMARY, run_dir / EXPORT]
        if (dataset, model) in shown or (run_dir / SUMMARY).exists():
            unfinished.add(dataset)
    for dataset in sorted(unfinished | set(newest)):
        for name in DATASET_TABLES:
            table = root / dataset / name
            if dataset in unfinished or _older(table, newest[dataset]):
                found.append(table)
    return [path for path in found if path.exists()]


def _older(path: Path, than: float) -> bool:
    return path.exists() and path.stat().st_mtime < than


def set_aside(paths) -> list[Path]:
    """Move each of ``paths`` to ``<name>.earlier`` beside it, replacing an older one; where they went."""
    moved = []
    for path in map(Path, paths):
        target = path.with_name(path.name + EARLIER)
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        os.replace(path, target)
        moved.append(target)
    return moved
