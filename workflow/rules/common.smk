import copy
import os
import re
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.logging import logger
from snakemake.utils import validate

from janusfit import code as janusfit_code
from janusfit import config as janusfit_config
from janusfit.data import sources as data_sources
from janusfit.data.simulate import TRUTH_MODEL as SIMULATION_TRUTH
from janusfit.models import MODELS as MODEL_REGISTRY
from janusfit.reporting import provenance as provenance_page
from janusfit.resources import requests as resource_requests
from janusfit.sampling.dynesty_samples import set_aside_if_unreadable as set_aside_unreadable_samples
from janusfit.sampling.emcee_hdf5 import set_aside_if_unreadable as set_aside_unreadable_chain
from janusfit.sampling.registry import SAMPLERS as SAMPLER_REGISTRY


report: "../report/workflow.rst"


def validated(cfg, key=""):
    """Check ``cfg`` against the schema and fill in its defaults; an error names the key (under ``key``)."""
    try:
        validate(cfg, "../schemas/config.schema.yaml")
    except WorkflowError as exc:
        # Snakemake raises this while handling jsonschema's error, whose path is the key at fault.
        if not hasattr(exc.__context__, "absolute_path"):
            raise
        raise janusfit_config.schema_error(exc.__context__, key) from None


for _path in workflow.configfiles:
    if os.path.isfile(_path):
        janusfit_config.check_config_file(_path)
# Per-run overrides are checked after merging (below), so that the schema's
# defaults are not written into them.
_raw_runs = copy.deepcopy(config.get("runs") or {})
validated(config)
config["runs"] = _raw_runs
for _key in _raw_runs:
    _merged = janusfit_config.deep_merge(config, _raw_runs[_key])
    _merged["runs"] = {}
    validated(_merged, f"runs.{_key}")
janusfit_config.check(config)

RUNS = janusfit_config.runs(config)
DATASETS = janusfit_config.run_datasets(config)
MODELS = list(config["models"])
SAMPLERS = list(config["samplers"])
# The samplers of this workflow, as the registry declares them.
RUN_SAMPLERS = [SAMPLER_REGISTRY[s] for s in SAMPLERS]
# Under the SLURM profile (slurm_* default resources) the sampling jobs'
# threads come from the profile's set-threads or the config's cores, never
# from detecting the cores of this submitting node.
ON_SLURM = any(name.startswith("slurm_") for name in workflow.resource_settings.default_resources or ())
# --set-threads values are Snakemake Resource objects.
_EMCEE_SET_THREADS = workflow.resource_settings.overwrite_threads.get("emcee")
CORES = resource_requests.core_counts(
    config,
    on_cluster=ON_SLURM,
    emcee_set_threads=getattr(_EMCEE_SET_THREADS, "value", _EMCEE_SET_THREADS),
)
# Every output, log and checkpoint of this config is under its own root, so
# runs of two configs never overwrite each other's overview or report.
RESULTS = janusfit_config.results_root(config["results_dir"])


wildcard_constraints:
    dataset="|".join(re.escape(d) for d in config["datasets"]),
    model="|".join(re.escape(m) for m in MODELS),


def results(path):
    """``path`` under this config's results root (``results_dir``)."""
    return f"{RESULTS}/{path}"


def run_dir(dataset, model):
    return results(f"{dataset}/{model}")


def checkpoint_dir(wildcards, sampler):
    return results(f"checkpoints/{wildcards.dataset}/{wildcards.model}/{sampler}")


def settings_of(rule):
    """The run's settings that rule's outputs depend on (params: a change reruns the job)."""
    return lambda wildcards: janusfit_config.rule_params(
        config,
        wildcards.dataset,
        wildcards.model,
        timed_threads=resource_requests.preflight_threads(config, CORES, wildcards.dataset),
    )[rule]


def library_code(script, models=None):
    """params: the digest of the janusfit modules ``scripts/<script>.py`` imports, so that editing one reruns the rule.

    Snakemake's code trigger sees a rule's script, which is thin; the code
    that computes its outputs is in the library. ``models`` are the models
    whose modules the job's outputs depend on: by default its run's model, or
    for a job over runs (comparison, report) every configured model. Not a
    param of ``download``, whose bytes are pinned by their sha256 and must not
    be fetched again for a code change.
    """
    path = Path(workflow.basedir) / "scripts" / f"{script}.py"

    def digest(wildcards):
        names = models if models is not None else [wildcards.model] if "model" in wildcards.keys() else MODELS
        return janusfit_code.script_code(path, models=[MODEL_REGISTRY[m].__module__ for m in names])

    return digest


def dataset_files(wildcards):
    """Every file the (possibly combined) dataset is read from: local copies, else downloads."""
    return [
        source.file
        for name in janusfit_config.members(config, wildcards.dataset)
        for source in data_sources.sources(name, config["datasets"][name])
    ]


def summary_inputs(wildcards):
    """The run's resources, each sampler's summary inputs and posterior draws (dynesty's give the estimates
    when emcee is not run), and the sampling jobs' memory records."""
    base = run_dir(wildcards.dataset, wildcards.model)
    files = {"resources": f"{base}/resources.json"}
    for sampler in RUN_SAMPLERS:
        files.update(sampler.files(base, "summary_inputs"))
        files.update(sampler.files(base, "draws"))
    for sampler in RUN_SAMPLERS:
        files[f"memory_{sampler.name}"] = f"{base}/{sampler.name}/memory.json"
    return files


def draws_inputs(wildcards):
    """The files of every sampler's posterior draws, by input name."""
    base = run_dir(wildcards.dataset, wildcards.model)
    return {key: path for sampler in RUN_SAMPLERS for key, path in sampler.files(base, "draws").items()}


def fit_sampler():
    """The sampler whose draws give the figures' bands: emcee's when it runs, else dynesty's weighted samples."""
    return SAMPLER_REGISTRY["emcee" if "emcee" in SAMPLERS else "dynesty"]


def hubble_inputs(wildcards):
    """The dataset's data.json, and each model's summary and posterior draws, by ``<file>_<model>``."""
    files = {"data": results(f"{wildcards.dataset}/data.json")}
    for model in MODELS:
        base = run_dir(wildcards.dataset, model)
        files[f"summary_{model}"] = f"{base}/summary.json"
        files.update({f"{key}_{model}": path for key, path in fit_sampler().files(base, "draws").items()})
    return files


def sampling_inputs(wildcards):
    """A sampling job's inputs: the dataset's description and the run's pre-flight resources."""
    base = run_dir(wildcards.dataset, wildcards.model)
    return {"data": results(f"{wildcards.dataset}/data.json"), "resources": f"{base}/resources.json"}


def sampler_outputs(sampler):
    """The sampling rule's results as the registry declares them, with wildcards for the run."""
    return SAMPLER_REGISTRY[sampler].files(results("{dataset}/{model}"), "outputs")


def memory_reports():
    """The figures of each sampling job's memory, by output name: drawn by the summary job from its memory.json."""
    return {
        f"memory_{sampler.name}": report(
            results(f"{{dataset}}/{{model}}/{sampler.name}/memory.png"),
            caption="../report/memory.rst",
            category="Per run",
            subcategory="{dataset}/{model}",
            labels={"result": f"memory of {sampler.name}"},
        )
        for sampler in RUN_SAMPLERS
    }


def export_inputs(wildcards):
    """The export job's inputs: the run's summary and every sampler's draws."""
    return {"summary": f"{run_dir(wildcards.dataset, wildcards.model)}/summary.json", **draws_inputs(wildcards)}


def truth_file(wildcards):
    """The simulated truth, when the dataset is simulated and has one, for the corner plot."""
    names = janusfit_config.members(config, wildcards.dataset)
    if len(names) == 1 and config["datasets"][names[0]]["format"] == "simulated":
        truth = data_sources.simulated_truth(config, names[0])
        return [truth] if truth else []
    return []


def final_outputs():
    out = []
    for dataset, model in RUNS:
        base = run_dir(dataset, model)
        out += [f"{base}/summary.json", f"{base}/corner.png"]
        out += [f"{base}/{path}" for sampler in RUN_SAMPLERS for path in sampler.final]
        out.append(f"{base}/export")
    if has_comparison():
        out += [results(f"{dataset}/comparison.csv") for dataset in DATASETS]
    out += [results(f"{dataset}/constraints.tex") for dataset in DATASETS]
    out += [results(f"{dataset}/data.png") for dataset in DATASETS]
    out += [results(f"{dataset}/hubble.png") for dataset in DATASETS]
    out += [results("overview.csv"), results("overview.html"), results("provenance.html")]
    return out


def has_comparison():
    """Whether the workflow compares models (it needs a sampler's evidences and two models)."""
    return any(sampler.evidence for sampler in RUN_SAMPLERS) and len(MODELS) > 1


def unmade_outputs():
    """The workflow's final outputs that do not exist yet: a run of some targets (one run's chain) leaves them."""
    return [f for f in final_outputs() if not os.path.exists(f)]


def mark_earlier_results():
    """After a failed run: a banner on the pages that show runs no longer done, and their exports moved aside."""
    # Here, not at the top: every job of a cluster run parses this file, and only a failed workflow needs it.
    from janusfit.reporting import stale as janusfit_stale

    runs = janusfit_stale.stale_runs(RESULTS)
    pages = [results("overview.html"), results("report.html")]
    marked = janusfit_stale.mark_stale(pages, runs, RESULTS) if runs else []
    if marked:
        logger.warning(
            f"janusfit: {' and '.join(map(str, marked))} show earlier results of {', '.join(runs)}, "
            "no longer done: marked as such until the workflow finishes"
        )
    moved = janusfit_stale.set_aside(janusfit_stale.earlier_exports(RESULTS))
    if moved:
        logger.warning(
            f"janusfit: {', '.join(map(str, moved))}: made from results that are no longer current, moved aside "
            f"(renamed *{janusfit_stale.EARLIER}) until the workflow remakes them"
        )


def report_command(workflow):
    """The command that writes the report (<results_dir>/report.html) for this same workflow and config."""
    configfiles = " ".join(f"'{f}'" for f in workflow.overwrite_configfiles)
    log = results("logs/report.log")
    # The interpreter running this Snakemake, not whichever `snakemake` is first on PATH: that one may
    # not see janusfit (a venv without its own snakemake script falls through to another Python).
    return (
        f"'{sys.executable}' -m snakemake --snakefile '{workflow.main_snakefile}' --directory '{os.getcwd()}' "
        + (f"--configfile {configfiles} " if configfiles else "")
        + f"--report '{results('report.html')}' --quiet all > '{log}' 2>&1 "
        + f"|| echo 'janusfit: the HTML report failed; see {log}'"
    )


# A final chain that cannot be read (a full disk, a copy cut short) is set
# aside now, so that Snakemake sees it missing and the emcee job rebuilds it
# from its checkpoint segments; left in place, every reader of it would fail.
# dynesty's samples likewise, written again from its complete checkpoint.
for _sampler, _final, _set_aside in (
    ("emcee", "emcee/chain.h5", set_aside_unreadable_chain),
    ("dynesty", "dynesty/samples.h5", set_aside_unreadable_samples),
):
    for _dataset, _model in RUNS if _sampler in SAMPLERS else ():
        _moved = _set_aside(f"{run_dir(_dataset, _model)}/{_final}")
        if _moved:
            logger.warning(f"janusfit: {_moved}")


def sampling_threads(sampler, unmeasured):
    """A sampling rule's threads: read from the run's resources.json (the pre-flight job's measurement) under the measured policy."""
    return lambda wildcards, input: resource_requests.sampling_threads(
        config,
        CORES,
        dataset=wildcards.dataset,
        resources_json=input.resources,
        sampler=sampler,
        unmeasured=unmeasured,
    )
