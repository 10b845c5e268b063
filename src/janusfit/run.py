"""A run: one model on one (possibly combined) dataset, built from the config."""

from __future__ import annotations

from pathlib import Path

from .config import RunSettings, run_settings
from .data import load_dataset
from .likelihood import Posterior
from .models import get_model


def load_run(config: dict, dataset: str, model: str, base_dir=None) -> tuple[RunSettings, Posterior]:
    settings = run_settings(config, dataset, model)
    base = Path.cwd() if base_dir is None else Path(base_dir)
    datasets = [load_dataset(name, config["datasets"][name], base) for name in settings.datasets]
    return settings, Posterior(get_model(model), datasets, settings.priors)
