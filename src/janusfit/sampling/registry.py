"""The samplers, registered by name: what each one writes, what other rules read of it, and how it is estimated.

The workflow's rules, the pre-flight check and the memory estimates iterate
over :data:`SAMPLERS` instead of branching on sampler names, so a new sampler
(an evidence cross-check such as nautilus or UltraNest) is an entry here, its
settings in :mod:`janusfit.settings`, its runner, its rule and its script.

Plain Python with no third-party imports: the workflow reads this while it is
parsed. Functions are named ``"module:function"`` and imported when called,
so reading the registry loads no sampler.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Sampler:
    """One sampler. Paths are under the run's directory ``<results_dir>/<dataset>/<model>``."""

    name: str
    outputs: dict  # the sampling rule's results, by output name (besides <name>/memory.json and .png)
    record: str  # the output that records the run (steps or ln Z, resumes, fingerprint); it exists once the job ends
    draws: dict  # the files of its posterior draws, by input name: read by the corner plot and the exports
    summary_inputs: dict  # the files the run's summary reads, by input name
    final: tuple  # what the workflow's default target asks for of it
    checkpoint: tuple  # its checkpoint files: (folder, glob) under <results_dir>/checkpoints/<dataset>/<model>/<name>
    # The package whose own objects its checkpoint pickles, which only the version that wrote them is sure
    # to restore; None when the checkpoint is plain arrays any version resumes from.
    pickles: str | None
    evidence: bool  # whether it computes ln Z, which the model comparison needs
    memory: str  # (run settings, n_params, n_data, full_cov, z_max) -> its MemoryEstimate
    disk: str  # (posterior, run settings) -> bytes its results and checkpoint take
    estimates: str  # (posterior, run settings, MemoryEstimate, start-up s) -> its entry of resources.json
    batch: str  # (run settings) -> rows of one likelihood call, at which its threads are measured
    own_time: str  # (its resources.json entry, posterior, run settings) -> its own seconds per likelihood evaluation

    def files(self, base: str, kind: str) -> dict:
        """``outputs``, ``draws`` or ``summary_inputs`` as paths under ``base``."""
        return {key: f"{base}/{path}" for key, path in getattr(self, kind).items()}

    def call(self, role: str, *args, **kwargs):
        """Call the function this sampler names for ``role`` (``memory``, ``disk``, ``estimates``, ``batch``, ``own_time``)."""
        module, _, function = getattr(self, role).partition(":")
        return getattr(importlib.import_module(module), function)(*args, **kwargs)


SAMPLERS = {
    s.name: s
    for s in (
        Sampler(
            name="emcee",
            outputs={"chain": "emcee/chain.h5", "run": "emcee/run.json"},
            record="emcee/run.json",
            draws={"chain": "emcee/chain.h5", "convergence": "convergence.json"},
            summary_inputs={"chain": "emcee/chain.h5", "run": "emcee/run.json", "convergence": "convergence.json"},
            final=("emcee/chain.h5", "convergence.json", "trace.png"),
            checkpoint=("segments", "seg_*.npz"),
            pickles=None,
            evidence=False,
            memory="janusfit.resources.memory:emcee_run_estimate",
            disk="janusfit.stages.preflight:emcee_disk",
            estimates="janusfit.stages.preflight:emcee_estimates",
            batch="janusfit.stages.preflight:emcee_batch",
            own_time="janusfit.stages.preflight:emcee_own_time",
        ),
        Sampler(
            name="dynesty",
            outputs={"samples": "dynesty/samples.h5", "evidence": "dynesty/evidence.json"},
            record="dynesty/evidence.json",
            draws={"samples": "dynesty/samples.h5"},
            summary_inputs={"evidence": "dynesty/evidence.json"},
            final=("dynesty/samples.h5",),
            checkpoint=("generations", "state_*.pkl"),
            pickles="dynesty",
            evidence=True,
            memory="janusfit.resources.memory:dynesty_run_estimate",
            disk="janusfit.stages.preflight:dynesty_disk",
            estimates="janusfit.stages.preflight:dynesty_estimates",
            batch="janusfit.stages.preflight:dynesty_batch",
            own_time="janusfit.stages.preflight:dynesty_own_time",
        ),
    )
}


def checkpoint_files(directory) -> list[Path]:
    """The checkpoint files of any sampler in ``directory``, sorted (a dynesty repeat's own directory is not searched)."""
    directory = Path(directory)
    return sorted(p for s in SAMPLERS.values() for p in directory.glob(f"{s.checkpoint[0]}/{s.checkpoint[1]}"))
