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
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

from .data.lightcurves import DEFAULTS as LIGHT_CURVE_OPTIONS
from .data.lightcurves import NUISANCE_LABELS, NUISANCE_PARAMS
from .data.loaders import COV_NOT_TAKEN, FORMATS, column_mapping, require_pecz
from .data.sources import KEYS
from .data.validate import require_kind
from .errors import ConfigError, JanusfitError
from .models import MODELS
from .models.base import H0_LABEL
from .resources.cores import heavy_policy
from .settings import (
    DynestySettings,
    EmceeSettings,
    canonical_sample,
    default_walkers,
    minimum_nlive,
    minimum_walkers,
    require_static_for_maxiter,
    resolve_bound,
)

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


def _check_model(key: str, cls) -> None:
    """A model class says what every run of it needs: a label per parameter, no name janusfit adds, its domain's."""
    where = f"model '{cls.name}' ({cls.__module__})"
    labels = getattr(cls, "labels", None)
    if not isinstance(labels, dict) or not set(cls.params) <= set(labels):
        given = sorted(labels) if isinstance(labels, dict) else "none"
        raise ConfigError(
            key, f"{where} must give a LaTeX label for each of its params {list(cls.params)}; labels: {given}"
        )
    added = {"H0", *NUISANCE_PARAMS}
    for name in cls.params:
        if name in added:
            raise ConfigError(
                key,
                f"{where} has a parameter named '{name}', which janusfit samples itself beside a model's parameters "
                "(H0 for H(z) data, alpha and beta for light curves); rename the model's parameter",
            )
    unknown = sorted(set(cls().domain_bounds(1.0)) - set(cls.params))
    if unknown:
        raise ConfigError(key, f"{where}: domain_bounds names {unknown}, not among its params {list(cls.params)}")


def runs(config: dict) -> list[tuple[str, str]]:
    """Every (dataset, model) pair the workflow computes."""
    return [(d, m) for d in run_datasets(config) for m in config["models"]]


def uses_h0(config: dict, dataset: str) -> bool:
    return any(config["datasets"][d]["kind"] == "hz" for d in members(config, dataset))


def param_names(config: dict, dataset: str, model: str) -> list[str]:
    """The run's sampled parameters, in the posterior's order: the model's, H0, the datasets' nuisance parameters."""
    nuisance = [
        p
        for d in members(config, dataset)
        for p in getattr(FORMATS.get(config["datasets"][d].get("format")), "nuisance", ())
    ]
    return list(MODELS[model].params) + (["H0"] if uses_h0(config, dataset) else []) + nuisance


def param_labels(config: dict, dataset: str, model: str) -> dict[str, str]:
    """The run's parameters' plot labels, as its posterior gives them, from the config alone (no data read)."""
    labels = {**MODELS[model].labels, "H0": H0_LABEL, **NUISANCE_LABELS}
    return {p: labels.get(p, p) for p in param_names(config, dataset, model)}


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
    section = deep_merge(
        {k: config.get(k) for k in OVERRIDABLE}, (config.get("runs") or {}).get(f"{dataset}/{model}", {})
    )
    e, d = section["emcee"], section["dynesty"]
    n_params = len(param_names(config, dataset, model))
    emcee_settings = EmceeSettings(
        n_walkers=int(e.get("n_walkers") or default_walkers(n_params)),
        max_steps=int(e["max_steps"]),
        seed=int(e["seed"]),
        moves=e["moves"],
        checkpoint_steps=int(e["checkpoint"]["steps"]),
        checkpoint_seconds=float(e["checkpoint"]["seconds"]),
        check_every=int(e["stop"]["check_every"]),
        n_over_tau=float(e["stop"]["n_over_tau"]),
        tau_rel_change=float(e["stop"]["tau_rel_change"]),
        stop_on_convergence=bool(e["stop"]["enabled"]),
        progress_figure=bool(e["progress"]["figure"]),
        progress_figure_seconds=float(e["progress"]["seconds"]),
        # Read by the convergence job, and here only for a warning: a config the
        # schema did not fill (a library caller's) may leave the section empty.
        max_walker_deficit=float(section["convergence"].get("max_walker_deficit", EmceeSettings.max_walker_deficit)),
    )
    dynesty_settings = DynestySettings(
        nlive=int(d["nlive"]),
        dlogz=float(d["dlogz"]),
        method=d["method"],
        bound=resolve_bound(d["bound"], n_params),
        sample=canonical_sample(d["sample"], n_params),
        seed=int(d["seed"]),
        checkpoint_seconds=float(d["checkpoint_seconds"]),
        maxiter=None if d["maxiter"] is None else int(d["maxiter"]),
        repeats=int(d["repeats"]),
    )
    return RunSettings(
        dataset=dataset,
        model=model,
        datasets=members(config, dataset),
        # A model's prior on a parameter some of its runs lack (H0 without H(z) data) is for the runs that have it.
        priors={
            p: tuple(v)
            for p, v in (section["priors"] or {}).get(model, {}).items()
            if p in param_names(config, dataset, model)
        },
        emcee=emcee_settings,
        dynesty=dynesty_settings,
        convergence=section["convergence"],
        on_change=section["on_change"],
    )


def check_config_file(path) -> None:
    """Raise for a YAML config file at ``path`` that Snakemake would misread or refuse unnamed.

    A key written twice in one mapping is a ConfigError: YAML loaders keep
    the second and drop the first whole, without a word (a second ``emcee:``
    section appended to a config reverted every emcee setting of the first
    to its default, an audit's case). A syntax error is a JanusfitError
    naming the file and the line: Snakemake's own message names neither.
    """
    import yaml

    class Strict(yaml.SafeLoader):
        pass

    def mapping(loader, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            key = loader.construct_object(key_node, deep=deep)
            if key in seen:
                raise ConfigError(
                    str(key),
                    f"written twice in the same section of '{path}' (lines {seen[key]} and "
                    f"{key_node.start_mark.line + 1}): YAML keeps the second and drops every setting of the first; "
                    "write it once",
                )
            seen[key] = key_node.start_mark.line + 1
        return loader.construct_mapping(node, deep=deep)

    Strict.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    try:
        yaml.load(Path(path).read_text(encoding="utf-8"), Loader=Strict)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise JanusfitError(f"config file '{path}' is not valid YAML{where}: {problem}") from None


def schema_error(error, prefix: str = "") -> ConfigError:
    """The ConfigError for a JSON-schema validation error (``jsonschema.ValidationError``), naming its key.

    ``prefix`` is the key of the part of the config that was validated, e.g.
    ``runs.jla/lcdm`` for a run's merged settings.
    """
    key = prefix
    for part in error.absolute_path:
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
    return ConfigError(key or "(the whole config)", error.message)


def _run_section(config: dict, dataset: str, model: str, name: str) -> dict:
    """Section ``name`` of the config as run ``dataset/model`` sees it: the global one with the run's override."""
    return deep_merge(
        config.get(name) or {}, ((config.get("runs") or {}).get(f"{dataset}/{model}", {})).get(name) or {}
    )


def _overridden_key(config: dict, dataset: str, model: str, key: str) -> str:
    """``key`` as the config spells it for run ``dataset/model``: under ``runs:`` when the run overrides it."""
    section = (config.get("runs") or {}).get(f"{dataset}/{model}", {})
    for part in key.split("."):
        if not isinstance(section, dict) or part not in section:
            return key
        section = section[part]
    return f"runs.{dataset}/{model}.{key}"


def rule_params(config: dict, dataset: str, model: str, *, timed_threads: int = 1) -> dict[str, str]:
    """For each rule of run ``dataset/model``, the config settings its outputs depend on, as canonical JSON.

    The workflow gives each rule its entry as ``params``, and Snakemake reruns a
    job whose params changed since its outputs were made, and every job
    downstream of it. What reruns is therefore exactly what a changed setting
    affects:

    - ``preflight``: what its checks and its disk and runtime estimates read
      (model, priors, samplers, walkers, emcee's moves, ``max_steps``, live
      points, ``dlogz``, dynesty's ``sample``, ``repeats`` and ``method``, whose dynamic
      sampler runs ten times as long or more): the runtime estimate is the sampling job's time
      limit on a cluster; and whether ``cores.heavy`` is the measured
      policy, under which it times the likelihood's threads and the samplers
      ask for what paid (the fixed policies time nothing, so a switch
      between them reruns nothing); and, where it times more than one
      thread (``timed_threads``, the pre-flight job's own threads: light
      curves under the measured policy), how many, so that a machine or a
      ``cores.performance`` with more cores measures them, where the old
      measurement stopped short of them. Its ``resources.json`` is an input of both
      samplers, so both rerun; the one whose own settings did not change
      resumes from its complete checkpoint at once. (Memory estimates that
      depend on other settings, such as the checkpoint interval, are made
      again by each sampling job, which refuses to start short of memory.)
    - ``emcee``: model, priors, the settings that change the draws (walkers,
      seed, moves: the fingerprint's), and those that decide where the chain
      ends (``max_steps``, the stopping rule), under which the job resumes
      its checkpoint and cuts or continues the chain. Checkpoint intervals
      change neither, so they rerun nothing.
    - ``dynesty``: model, priors, the settings that change the draws (the
      fingerprint's, among them the dynamic sampler's ``dlogz``), ``dlogz``
      and ``maxiter``, where it stops (the static sampler's job resumes its
      checkpoint), and ``repeats``, how many seeds it runs.
    - ``convergence``: the thresholds and groups of the checks, and ``strict``.

    A prior left out is the model's default (H0's too), and a whole number
    written as a float (``50.0``) is the number, as -0.0 is 0: written either
    way, they rerun nothing.

    How the data are read is a param of ``inspect_data`` (see
    :func:`janusfit.data.sources.identity`), whose output every job of the
    dataset reads.
    """
    s = run_settings(config, dataset, model)
    e, d = s.emcee, s.dynesty
    # The model's default where the config gives no prior: the same bounds, whether written out or left out.
    priors = {**{p: MODELS[model].default_priors[p] for p in MODELS[model].params}, **s.priors}
    if "H0" in priors and [float(v) for v in priors["H0"]] == list(H0_PRIOR):
        del priors["H0"]
    # As floats, + 0.0 making -0.0 0.0: a bound written 0, 0.0 or -0.0 is the same prior, and must not rerun anything.
    run = {"model": model, "priors": {p: [float(v) + 0.0 for v in b] for p, b in sorted(priors.items())}}
    # What the pre-flight job's estimates of each sampler read.
    estimated = {
        # The moves it times steps with; left out at the default, as threads_measured is, so that
        # finished runs of the default do not rerun for the key.
        "emcee": {
            "n_walkers": e.n_walkers,
            "max_steps": e.max_steps,
            **({} if e.moves == EmceeSettings.moves else {"moves": e.moves}),
        },
        "dynesty": {
            "nlive": d.nlive,
            "dlogz": d.dlogz,
            "sample": d.sample,
            "repeats": d.repeats,
            # Left out for the static sampler, which every run made before the key was timed for.
            **({} if d.method == DynestySettings.method else {"method": d.method}),
        },
    }
    params = {
        "preflight": {
            **run,
            "samplers": sorted(config["samplers"]),
            # Left out under the default, measured policy: runs made before
            # the key existed were measured, and must not rerun for it.
            **({} if heavy_policy(config["cores"]["heavy"]).measured else {"threads_measured": False}),
            # Left out at one thread, which every run of a light likelihood times.
            **({"threads_timed": timed_threads} if timed_threads > 1 else {}),
            # The estimates of the samplers the config runs: another's settings change nothing it writes.
            **{sampler: estimated[sampler] for sampler in sorted(config["samplers"])},
        },
        "emcee": {**run, **e.chain_settings(), "max_steps": e.max_steps, "stop": e.stop_rule()},
        "dynesty": {**run, **d.chain_settings(), **d.stop_settings(), "repeats": d.repeats},
        # Every key of the section (the schema admits no other) changes a verdict.
        "convergence": _whole_numbers_as_int(dict(s.convergence)),
    }
    return {rule: json.dumps(value, sort_keys=True) for rule, value in params.items()}


def _whole_numbers_as_int(value):
    """``value`` with every whole float an int, in dicts and lists: 50.0 is the threshold 50.

    Not every number a float: config.yaml writes its thresholds as ints, which
    is the form its finished runs recorded.
    """
    if isinstance(value, dict):
        return {k: _whole_numbers_as_int(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole_numbers_as_int(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# H0's prior where the config gives none: the likelihood's (likelihood.posterior.H0_PRIOR), held equal by
# a test. Imported from there, the likelihood would enter the code digest of every job that reads the
# config, inspect_data's too, so that an edit of it would rerun every job.
H0_PRIOR = (50.0, 100.0)

# In the results directory: results_dir as written when its outputs were made.
RESULTS_NAME_FILE = ".results_dir"


def results_root(results_dir: str) -> str:
    """The results directory as the workflow's outputs are named, refused when it was named otherwise before.

    Snakemake keeps each output's params, code and input records under its path
    as written: with ``./results``, or the absolute path, for outputs made as
    ``results/...``, it found no record, and a changed prior or code reran
    nothing. The name the outputs were made under is kept in the directory
    (:data:`RESULTS_NAME_FILE`), written when the workflow first plans there.
    """
    root = results_dir.rstrip("/") or "/"
    record = Path(os.path.normpath(root)) / RESULTS_NAME_FILE
    try:
        made_as = record.read_text().strip()
    except FileNotFoundError:
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(root + "\n")
        return root
    if made_as != root:
        raise ConfigError(
            "results_dir",
            f"'{results_dir}' names the directory whose outputs were made as '{made_as}' (recorded in '{record}'). "
            f"Snakemake knows what it made there by that name only, and would rerun nothing for a changed setting: "
            f"write results_dir: {made_as}; or, to name it so from now on, delete '{record}' and run Snakemake "
            "once with --forceall (the samplers resume their complete checkpoints)",
        )
    return root


def check(config: dict) -> None:
    """Raise ConfigError for the first semantic problem, naming its key."""
    results = Path(config["results_dir"])
    if results.exists() and not results.is_dir():
        raise ConfigError(
            "results_dir",
            f"'{config['results_dir']}' is a file: results_dir is the directory the results, logs and "
            "checkpoints are written under",
        )
    datasets = config["datasets"]
    for i, model in enumerate(config["models"]):
        if model not in MODELS:
            raise ConfigError(f"models[{i}]", f"unknown model '{model}'; known models: {', '.join(sorted(MODELS))}")
        _check_model(f"models[{i}]", MODELS[model])
    for name, spec in datasets.items():
        if "combine" in spec:
            _check_combine(name, spec, datasets)
        else:
            _check_dataset(name, spec)
    for i, name in enumerate(run_datasets(config)):
        if name not in datasets:
            raise ConfigError(f"run_datasets[{i}]", f"unknown dataset '{name}'; declared: {', '.join(datasets)}")
    for model, priors in (config.get("priors") or {}).items():
        _check_priors(f"priors.{model}", model, priors)
    for key, override in (config.get("runs") or {}).items():
        dataset, _, model = key.partition("/")
        if (dataset, model) not in runs(config):
            raise ConfigError(
                f"runs.{key}",
                "not a run of this workflow; keys are '{dataset}/{model}' "
                f"among: {', '.join(f'{d}/{m}' for d, m in runs(config))}",
            )
        unknown = set(override) - set(OVERRIDABLE)
        if unknown:
            raise ConfigError(f"runs.{key}", f"cannot override {sorted(unknown)}; allowed: {', '.join(OVERRIDABLE)}")
        for m, priors in (override.get("priors") or {}).items():
            _check_priors(f"runs.{key}.priors.{m}", m, priors)
            if m != model:
                raise ConfigError(
                    f"runs.{key}.priors.{m}",
                    f"run {key} fits model '{model}', so priors of '{m}' here change nothing; write them under "
                    f"runs.{key}.priors.{model}, or under priors.{m} for every run of '{m}'",
                )
    for dataset, model in runs(config):
        settings = run_settings(config, dataset, model)
        acceptance = _run_section(config, dataset, model, "convergence").get("acceptance")
        if acceptance is not None and not 0 <= acceptance[0] < acceptance[1] <= 1:
            raise ConfigError(
                _overridden_key(config, dataset, model, "convergence.acceptance"),
                f"needs 0 <= low < high <= 1, got {list(acceptance)}",
            )
        n_params = len(param_names(config, dataset, model))
        walkers, nlive = settings.emcee.n_walkers, settings.dynesty.nlive
        if "emcee" in config["samplers"] and (walkers < minimum_walkers(n_params) or walkers % 2):
            raise ConfigError(
                _overridden_key(config, dataset, model, "emcee.n_walkers"),
                f"{walkers} walkers for run {dataset}/{model} with {_parameters(n_params)}; "
                f"emcee needs an even number ≥ {minimum_walkers(n_params)}",
            )
        if "dynesty" in config["samplers"] and nlive < minimum_nlive(n_params):
            raise ConfigError(
                _overridden_key(config, dataset, model, "dynesty.nlive"),
                f"{nlive} live points for run {dataset}/{model} with {_parameters(n_params)}; "
                f"dynesty needs more than twice as many live points as parameters, and 4 or more: "
                f"at least {minimum_nlive(n_params)}",
            )
        if "dynesty" in config["samplers"] and settings.dynesty.maxiter is not None:
            require_static_for_maxiter(settings.dynesty, _overridden_key(config, dataset, model, "dynesty.maxiter"))
        own = ((config.get("runs") or {}).get(f"{dataset}/{model}", {}).get("priors") or {}).get(model, {})
        for p in own:
            if p not in param_names(config, dataset, model):
                raise ConfigError(
                    f"runs.{dataset}/{model}.priors.{model}.{p}",
                    f"'{p}' is not a parameter of run {dataset}/{model} "
                    f"({', '.join(param_names(config, dataset, model))})",
                )
    for model, priors in (config.get("priors") or {}).items():
        fitted = [(d, m) for d, m in runs(config) if m == model]
        for p in priors:
            if fitted and not any(p in param_names(config, d, model) for d, _ in fitted):
                raise ConfigError(
                    f"priors.{model}.{p}",
                    f"'{p}' is a parameter of none of the runs of '{model}' "
                    f"({'; '.join(f'{d}/{model}: ' + ', '.join(param_names(config, d, model)) for d, _ in fitted)})"
                    + ("; H0 is sampled only with H(z) data" if p == "H0" else ""),
                )


SIMULATION_KEYS = ("n_sn", "seed")


def _check_dataset(name: str, spec: dict) -> None:
    needs = "is required: a dataset needs 'kind', 'format' and 'path' (or 'url'), or 'combine'"
    if spec.get("cov_sha256") and not (spec.get("cov") or spec.get("cov_url")):
        raise ConfigError(
            f"datasets.{name}.cov_sha256", "is given without 'cov' or 'cov_url', the covariance it would pin"
        )
    for key in ("kind", "format"):
        if not spec.get(key):
            raise ConfigError(f"datasets.{name}.{key}", needs)
    if not spec.get("path") and not spec.get("url"):
        raise ConfigError(f"datasets.{name}.path", needs)
    for key in SIMULATION_KEYS:
        if key in spec and spec["format"] != "simulated":
            # Accepted and ignored before: a seed written for a real dataset changed nothing.
            raise ConfigError(f"datasets.{name}.{key}", f"applies to format 'simulated' only, not '{spec['format']}'")
    for url_key, sha_key in KEYS.values():
        if spec.get(url_key) and not spec.get(sha_key):
            raise ConfigError(
                f"datasets.{name}.{sha_key}",
                f"is required with '{url_key}': a download is pinned by the sha256 of its bytes",
            )
    fmt = FORMATS.get(spec["format"])
    if fmt is not None:
        require_kind(name, spec["format"], spec["kind"], fmt.kinds)
        # Here, not only when the data are read: inspect_data's failure took data.json with it, and every
        # job of the dataset reran once the key was mended.
        column_mapping(name, spec["format"], spec["kind"], spec.get("columns"))
    if spec.get("cov") and fmt is not None and not fmt.takes_cov:
        raise ConfigError(f"datasets.{name}.cov", COV_NOT_TAKEN.format(format=spec["format"]))
    for key in (*LIGHT_CURVE_OPTIONS, "covmats"):
        if key in spec and not getattr(fmt, "nuisance", ()):
            raise ConfigError(
                f"datasets.{name}.{key}", f"applies to format 'jla_lcparams' only, not '{spec['format']}'"
            )
    for p, (lo, hi) in (spec.get("nuisance_priors") or {}).items():
        _check_bounds(f"datasets.{name}.nuisance_priors.{p}", lo, hi)
    require_pecz(name, spec, fmt)


def _parameters(n: int) -> str:
    return f"{n} parameter{'s' if n != 1 else ''}"


def _check_combine(name: str, spec: dict, datasets: dict) -> None:
    parts = spec["combine"]
    extra = sorted(set(spec) - {"combine"})
    if extra:
        raise ConfigError(
            f"datasets.{name}.{extra[0]}",
            "a combined dataset is its members' data, read as each member says; "
            f"'{extra[0]}' here would change nothing: write it on a member, or remove it",
        )
    seen = {}
    for j, part in enumerate(parts):
        if part not in datasets or "combine" in datasets[part]:
            raise ConfigError(
                f"datasets.{name}.combine[{j}]", f"'{part}' is not a plain dataset declared under 'datasets'"
            )
        if part in seen:
            raise ConfigError(
                f"datasets.{name}.combine[{j}]",
                f"'{part}' is already combine[{seen[part]}]; a dataset combined with itself counts "
                "every point twice and shrinks the errors by √2",
            )
        seen[part] = j
    sampling = [part for part in parts if getattr(FORMATS.get(datasets[part].get("format")), "nuisance", ())]
    if len(sampling) > 1:
        raise ConfigError(
            f"datasets.{name}.combine",
            f"'{sampling[0]}' and '{sampling[1]}' both sample "
            "alpha and beta; light-curve samples with their own standardisation are fitted separately",
        )


def _check_priors(key: str, model: str, priors: dict) -> None:
    if model not in MODELS:
        raise ConfigError(key, f"unknown model '{model}'; known models: {', '.join(sorted(MODELS))}")
    allowed = set(MODELS[model].params) | {"H0"}
    for p, bounds in priors.items():
        if p not in allowed:
            raise ConfigError(
                f"{key}.{p}", f"'{p}' is not a parameter of model '{model}' ({', '.join(sorted(allowed))})"
            )
        _check_bounds(f"{key}.{p}", *bounds)


def _check_bounds(key: str, lo: float, hi: float) -> None:
    if not (math.isfinite(lo) and math.isfinite(hi)):
        # A flat prior needs a finite box: draws and dynesty's unit-cube
        # transform would otherwise be infinite or NaN.
        raise ConfigError(key, f"bounds must be finite numbers, got [{lo}, {hi}]")
    if not lo < hi:
        raise ConfigError(key, f"lower bound {lo} must be below upper bound {hi}")
