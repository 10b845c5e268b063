"""A run: one model on one (possibly combined) dataset, built from the config."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .config import RunSettings, run_settings
from .data import load_dataset
from .errors import ConfigError
from .likelihood import Posterior
from .models import get_model


def load_run(config: dict, dataset: str, model: str, base_dir=None) -> tuple[RunSettings, Posterior]:
    settings = run_settings(config, dataset, model)
    base = Path.cwd() if base_dir is None else Path(base_dir)
    datasets = [load_dataset(name, config["datasets"][name], base) for name in settings.datasets]
    posterior = Posterior(get_model(model), datasets, settings.priors)
    require_enough_data(dataset, posterior)
    return settings, posterior


def require_enough_data(dataset: str, posterior: Posterior) -> None:
    """At least one point more than the free parameters and the marginalised SN offsets.

    Each supernova set's unknown offset (M and H0) is marginalised, which uses
    up one point: with no point to spare the data carry no information, and a
    run would return its prior as posterior and an evidence error of NaN.
    Points at one redshift have one model value, so they count once (twenty
    supernovae at z = 0.5 are one point of the Hubble diagram, and the offset
    takes it); light curves count every row, each with its own stretch and
    colour for α and β.
    """
    offsets = len(posterior.sn)
    needed = posterior.ndim + offsets + 1
    points = sum(d.n if d.light_curves is not None else np.unique(d.z).size for d in posterior.datasets)
    if points < needed:
        counted = _count(posterior.n_data, "data point")
        if points < posterior.n_data:
            counted += f" at {_count(points, 'distinct redshift')} (points at one redshift have one model value)"
        raise ConfigError(
            f"datasets.{dataset}",
            f"run {dataset}/{posterior.model.name} has {counted}, too "
            f"few for its {_count(posterior.ndim, 'free parameter')} and "
            f"{_count(offsets, 'marginalised supernova offset')}: it needs at least {needed}; add "
            "data or leave the dataset out of 'run_datasets'",
        )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' if n != 1 else ''}"
