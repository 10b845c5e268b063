"""Where a workflow's files are under its results root, for tools that read finished or running workflows.

The workflow writes every file under one results root (``results/`` by
default): per run ``{root}/{dataset}/{model}/``, per dataset
``{root}/{dataset}/``, and the samplers' checkpoints under
``{root}/checkpoints/{dataset}/{model}/{sampler}/``. The ``janusfit``
command and the exports find runs through this module only, so the root is
the one thing they are told.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .errors import JanusfitError
from .sampling.registry import SAMPLERS as REGISTRY

DEFAULT_ROOT = "results"
SAMPLERS = tuple(REGISTRY)
CHECKPOINTS = "checkpoints"
# Files a run directory holds, relative to it.
SUMMARY = "summary.json"
CONVERGENCE = "convergence.json"
PREFLIGHT = "preflight.json"
RESOURCES = "resources.json"
EXPORT = "export"
SAMPLER_OUTPUT = {name: sampler.record for name, sampler in REGISTRY.items()}
EMCEE_CHAIN = REGISTRY["emcee"].outputs["chain"]
DYNESTY_SAMPLES = REGISTRY["dynesty"].outputs["samples"]
# Per dataset, relative to the dataset directory.
COMPARISON = "comparison.json"
CONSTRAINTS_TABLE = "constraints.tex"
# Files the sampling jobs keep beside their checkpoints.
PROGRESS_JSON = "progress.json"
PROGRESS_PNG = "progress.png"
INVOCATION = "invocation.json"
JOB = "job.json"  # the sampling job's own process: while it lives, the sampler is running
DATA = "data.json"  # per dataset, written before any of its runs starts
# At the root: a row per run of the config that last finished the workflow there.
OVERVIEW_CSV = "overview.csv"
# A run directory has at least one of these once its pre-flight job ran.
RUN_MARKERS = (PREFLIGHT, RESOURCES, SUMMARY)


# dynesty's repeat k (k ≥ 1) has its checkpoint inside the first run's, with its lock,
# lease and refusal beside it (``repeat-1.lock``) and anything set aside (``repeat-1.superseded-…``).
_REPEAT_DIR = re.compile(r"repeat-([1-9][0-9]*)")
_REPEAT_ENTRY = re.compile(r"repeat-[1-9][0-9]*(\..*)?")


def repeat_dir(checkpoint_dir, k: int) -> Path:
    """The checkpoint directory of dynesty's run ``k`` (0: the sampler's own)."""
    return Path(checkpoint_dir) / f"repeat-{k}" if k else Path(checkpoint_dir)


def belongs_to_a_repeat(name: str) -> bool:
    """True for an entry of a checkpoint directory that is a later repeat's, not the first run's own."""
    return _REPEAT_ENTRY.fullmatch(name) is not None


def checkpoint_runs(checkpoint_dir, repeats: int | None = None) -> list[Path]:
    """A sampler's checkpoint directory, then those of its dynesty repeats (``repeat-k``, inside it), in order of k.

    A directory set aside (``repeat-1.superseded-…``) is not a repeat; with
    ``repeats``, neither is ``repeat-k`` for k ≥ repeats, left by a config that ran more.
    """
    checkpoint_dir = Path(checkpoint_dir)
    found = {}
    for d in checkpoint_dir.glob("repeat-*"):
        if (match := _REPEAT_DIR.fullmatch(d.name)) and d.is_dir():
            found[int(match.group(1))] = d
    return [checkpoint_dir, *(found[k] for k in sorted(found) if repeats is None or k < repeats)]


def refusal_path(checkpoint_dir) -> Path:
    """The record of the last refusal of the checkpoint in ``checkpoint_dir``, while it stands.

    Beside the directory, as its lock is, so that a refused checkpoint stays
    byte for byte as it was; the job that next accepts the checkpoint or sets
    it aside removes the record.
    """
    checkpoint_dir = Path(checkpoint_dir)
    return checkpoint_dir.with_name(checkpoint_dir.name + ".refused.json")


class NotAResultsRoot(JanusfitError):
    """A directory given as a results root holds no janusfit run."""


@dataclass(frozen=True)
class Run:
    """One dataset × model under a results root."""

    root: Path
    dataset: str
    model: str

    @property
    def key(self) -> str:
        return f"{self.dataset}/{self.model}"

    @property
    def dir(self) -> Path:
        return self.root / self.dataset / self.model

    def checkpoint_dir(self, sampler: str) -> Path:
        return self.root / CHECKPOINTS / self.dataset / self.model / sampler


def find_runs(root) -> list[Run]:
    """Every run under ``root``, sorted by key (none yet when the workflow has only read its data).

    A run is a ``{dataset}/{model}/`` directory with a marker file (its
    pre-flight job ran) in a dataset directory with ``data.json``, or a
    sampler's checkpoint directory. Raises NotAResultsRoot naming ``root``
    when it has neither a dataset directory nor checkpoints.
    """
    root = Path(root)
    if not root.is_dir():
        raise NotAResultsRoot(
            f"'{root}' is not a directory; give the results directory of a janusfit "
            "workflow (the 'results/' folder beside its Snakefile)"
        )
    datasets = [d for d in root.iterdir() if (d / DATA).is_file()]
    keys = {
        (d.name, run_dir.name)
        for d in datasets
        for run_dir in d.iterdir()
        if run_dir.is_dir() and any((run_dir / marker).exists() for marker in RUN_MARKERS)
    }
    checkpoints = [d for d in (root / CHECKPOINTS).glob("*/*/*") if d.is_dir() and d.name in SAMPLERS]
    keys |= {(d.parent.parent.name, d.parent.name) for d in checkpoints}
    if not datasets and not keys:
        raise NotAResultsRoot(
            f"'{root}' is not the results directory of a janusfit workflow: it holds no run "
            f"('<dataset>/{DATA}' with '<dataset>/<model>/{PREFLIGHT}', or "
            f"'{CHECKPOINTS}/<dataset>/<model>/<sampler>/')"
        )
    return [Run(root, d, m) for d, m in sorted(keys)]


def configured_runs(root) -> list[tuple[str, str]] | None:
    """The (dataset, model) runs in ``root``'s overview.csv, in its order; None without one.

    A run directory stays on disk when its model or dataset leaves the config;
    the overview lists the runs of the config that last finished the workflow,
    which are the ones its exports and tables cover.
    """
    import csv

    path = Path(root) / OVERVIEW_CSV
    if not path.is_file():
        return None
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        if not {"dataset", "model"} <= set(reader.fieldnames or ()):
            raise NotAResultsRoot(
                f"'{path}' has no 'dataset' and 'model' columns, so it does not say which runs are the "
                "workflow's; rerun snakemake to rewrite it, or delete it to export every finished run"
            )
        return [(row["dataset"], row["model"]) for row in reader]


def left_over(root, runs: list[Run]) -> list[Run]:
    """The runs of ``runs`` that the config which last finished the workflow under ``root`` no longer has.

    Those not in ``overview.csv`` whose ``summary.json`` is older than it: they
    were on disk when the overview was written, and left out of it. A run
    finished after it (a model just added, its workflow still going) is not.
    """
    listed = configured_runs(root)
    if listed is None:
        return []
    written = (Path(root) / OVERVIEW_CSV).stat().st_mtime
    return [
        run
        for run in runs
        if (run.dataset, run.model) not in listed
        and (run.dir / SUMMARY).exists()
        and (run.dir / SUMMARY).stat().st_mtime <= written
    ]
