"""From the workflow config to the settings of each run.

The JSON schema (workflow/schemas/config.schema.yaml) checks types and fills
defaults; this module checks what a schema cannot (names that must exist,
bounds that must be ordered, walker counts that depend on the model) and
resolves the settings of one run: the top-level sections, overridden by the
run's entry in ``runs:`` keyed ``{dataset}/{model}``. Every error names the
config key.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

from .errors import ConfigError
from .models import MODELS
from .sampling.dynesty_runner import DynestySettings
from .sampling.emcee_runner import EmceeSettings

OVERRIDABLE = ("priors", "emcee", "dynesty", "convergence", "on_change")


def deep_merge(base: dict, override: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in (override or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def members(config: dict, dataset: str) -> list[str]:
    """The plain datasets a (possibly combined) dataset is made of."""
    spec = config["datasets"][dataset]
    return list(spec["combine"]) if "combine" in spec else [dataset]


def run_datasets(config: dict) -> list[str]:
    return list(config.get("run_datasets") or config["datasets"])


def runs(config: dict) -> list[tuple[str, str]]:
    """Every (dataset, model) pair the workflow computes."""
    return [(d, m) for d in run_datasets(config) for m in config["models"]]


def uses_h0(config: dict, dataset: str) -> bool:
    return any(config["datasets"][d]["kind"] == "hz" for d in members(config, dataset))


def param_names(config: dict, dataset: str, model: str) -> list[str]:
    return list(MODELS[model].params) + (["H0"] if uses_h0(config, dataset) else [])


@dataclass(frozen=True)
class RunSettings:
    dataset: str
    model: str
    datasets: list
    priors: dict
    emcee: EmceeSettings
    dynesty: DynestySettings
    convergence: dict
    on_change: str


def run_settings(config: dict, dataset: str, model: str) -> RunSettings:
    section = deep_merge({k: config.get(k) for k in OVERRIDABLE},
                         (config.get("runs") or {}).get(f"{dataset}/{model}", {}))
    e, d = section["emcee"], section["dynesty"]
    n_params = len(param_names(config, dataset, model))
    emcee_settings = EmceeSettings(
        n_walkers=int(e.get("n_walkers") or max(32, 4 * n_params)),
        max_steps=int(e["max_steps"]), seed=int(e["seed"]), moves=e["moves"],
        checkpoint_steps=int(e["checkpoint"]["steps"]), checkpoint_seconds=float(e["checkpoint"]["seconds"]),
        check_every=int(e["stop"]["check_every"]), n_over_tau=float(e["stop"]["n_over_tau"]),
        tau_rel_change=float(e["stop"]["tau_rel_change"]), stop_on_convergence=bool(e["stop"]["enabled"]),
        progress_figure=bool(e["progress"]["figure"]), progress_figure_seconds=float(e["progress"]["seconds"]),
    )
    dynesty_settings = DynestySettings(
        nlive=int(d["nlive"]), dlogz=float(d["dlogz"]), method=d["method"], bound=d["bound"],
        sample=d["sample"], seed=int(d["seed"]), checkpoint_seconds=float(d["checkpoint_seconds"]),
    )
    return RunSettings(
        dataset=dataset, model=model, datasets=members(config, dataset),
        priors={p: tuple(v) for p, v in (section["priors"] or {}).get(model, {}).items()},
        emcee=emcee_settings, dynesty=dynesty_settings,
        convergence=section["convergence"], on_change=section["on_change"],
    )


def check(config: dict) -> None:
    """Raise ConfigError for the first semantic problem, naming its key."""
    datasets = config["datasets"]
    for i, model in enumerate(config["models"]):
        if model not in MODELS:
            raise ConfigError(f"models[{i}]", f"unknown model '{model}'; known models: {', '.join(sorted(MODELS))}")
    for name, spec in datasets.items():
        if "combine" in spec:
            for j, part in enumerate(spec["combine"]):
                if part not in datasets or "combine" in datasets[part]:
                    raise ConfigError(f"datasets.{name}.combine[{j}]",
                                      f"'{part}' is not a plain dataset declared under 'datasets'")
        elif "path" not in spec or "format" not in spec:
            raise ConfigError(f"datasets.{name}", "a dataset needs 'kind', 'format' and 'path' (or 'combine')")
    for i, name in enumerate(run_datasets(config)):
        if name not in datasets:
            raise ConfigError(f"run_datasets[{i}]", f"unknown dataset '{name}'; declared: {', '.join(datasets)}")
    for model, priors in (config.get("priors") or {}).items():
        _check_priors(f"priors.{model}", model, priors)
    for key, override in (config.get("runs") or {}).items():
        dataset, _, model = key.partition("/")
        if (dataset, model) not in runs(config):
            raise ConfigError(f"runs.{key}", "not a run of this workflow; keys are '{dataset}/{model}' "
                              f"among: {', '.join(f'{d}/{m}' for d, m in runs(config))}")
        unknown = set(override) - set(OVERRIDABLE)
        if unknown:
            raise ConfigError(f"runs.{key}", f"cannot override {sorted(unknown)}; allowed: {', '.join(OVERRIDABLE)}")
        for m, priors in (override.get("priors") or {}).items():
            _check_priors(f"runs.{key}.priors.{m}", m, priors)
    for dataset, model in runs(config):
        settings = run_settings(config, dataset, model)
        n_params = len(param_names(config, dataset, model))
        if settings.emcee.n_walkers < 2 * n_params or settings.emcee.n_walkers % 2:
            raise ConfigError("emcee.n_walkers", f"{settings.emcee.n_walkers} walkers for run {dataset}/{model} "
                              f"with {n_params} parameters; emcee needs an even number ≥ {2 * n_params}")
        for p in settings.priors:
            if p not in param_names(config, dataset, model):
                raise ConfigError(f"priors.{model}.{p}", f"'{p}' is not a parameter of run {dataset}/{model} "
                                  f"({', '.join(param_names(config, dataset, model))})")


def _check_priors(key: str, model: str, priors: dict) -> None:
    if model not in MODELS:
        raise ConfigError(key, f"unknown model '{model}'; known models: {', '.join(sorted(MODELS))}")
    allowed = set(MODELS[model].params) | {"H0"}
    for p, bounds in priors.items():
        if p not in allowed:
            raise ConfigError(f"{key}.{p}", f"'{p}' is not a parameter of model '{model}' ({', '.join(sorted(allowed))})")
        lo, hi = bounds
        if not (math.isfinite(lo) and math.isfinite(hi)):
            # A flat prior needs a finite box: draws and dynesty's unit-cube
            # transform would otherwise be infinite or NaN.
            raise ConfigError(f"{key}.{p}", f"bounds must be finite numbers, got [{lo}, {hi}]")
        if not lo < hi:
            raise ConfigError(f"{key}.{p}", f"lower bound {lo} must be below upper bound {hi}")
