import copy
import re
from pathlib import Path

from snakemake.utils import validate

from janusfit import config as jconfig
from janusfit.errors import ConfigError
from janusfit.resources import workflow as jres


report: "../report/workflow.rst"


# Per-run overrides are checked after merging (below), so that the schema's
# defaults are not written into them.
_raw_runs = copy.deepcopy(config.get("runs") or {})
validate(config, "../schemas/config.schema.yaml")
config["runs"] = _raw_runs
for _key in _raw_runs:
    _d, _, _m = _key.partition("/")
    _merged = jconfig.deep_merge(config, {k: v for k, v in _raw_runs[_key].items()})
    _merged["runs"] = {}
    try:
        validate(_merged, "../schemas/config.schema.yaml")
    except Exception as exc:
        raise ConfigError(f"runs.{_key}", str(exc).splitlines()[0]) from None
jconfig.check(config)

RUNS = jconfig.runs(config)
DATASETS = jconfig.run_datasets(config)
MODELS = list(config["models"])
SAMPLERS = list(config["samplers"])
# Under the SLURM profile (slurm_* default resources) emcee's threads come
# from the config's cores or the profile's set-threads, never from detecting
# the cores of this submitting node.
ON_SLURM = any(name.startswith("slurm_") for name in workflow.resource_settings.default_resources or ())
CORES = jres.core_counts(config, on_cluster=ON_SLURM and "emcee" not in workflow.resource_settings.overwrite_threads)


wildcard_constraints:
    dataset="|".join(re.escape(d) for d in config["datasets"]),
    model="|".join(re.escape(m) for m in MODELS),


def run_dir(dataset, model):
    return f"results/{dataset}/{model}"


def checkpoint_dir(wildcards, sampler):
    return f"results/checkpoints/{wildcards.dataset}/{wildcards.model}/{sampler}"


def dataset_files(wildcards):
    """Every file the (possibly combined) dataset is read from."""
    files = []
    for name in jconfig.members(config, wildcards.dataset):
        spec = config["datasets"][name]
        files += [spec["path"]] + ([spec["cov"]] if spec.get("cov") else [])
    return files


def summary_inputs(wildcards):
    base = run_dir(wildcards.dataset, wildcards.model)
    files = {"resources": f"{base}/resources.json"}
    if "emcee" in SAMPLERS:
        files["chain"] = f"{base}/emcee/chain.h5"
        files["run"] = f"{base}/emcee/run.json"
        files["convergence"] = f"{base}/convergence.json"
    if "dynesty" in SAMPLERS:
        files["evidence"] = f"{base}/dynesty/evidence.json"
    for sampler in SAMPLERS:
        files[f"memory_{sampler}"] = f"{base}/{sampler}/memory.json"
    return files


def truth_file(wildcards):
    """The simulated truth, when the dataset is simulated, for the corner plot."""
    names = jconfig.members(config, wildcards.dataset)
    if len(names) == 1 and config["datasets"][names[0]]["format"] == "simulated":
        return [simulated_truth(names[0])]
    return []


def simulated_truth(name):
    return str(Path(config["datasets"][name]["path"]).with_suffix(".truth.json"))


def final_outputs():
    out = []
    for dataset, model in RUNS:
        base = run_dir(dataset, model)
        out += [f"{base}/summary.json", f"{base}/corner.png"]
        if "emcee" in SAMPLERS:
            out += [f"{base}/convergence.json", f"{base}/trace.png"]
    if "dynesty" in SAMPLERS and len(MODELS) > 1:
        out += expand("results/{dataset}/comparison.csv", dataset=DATASETS)
    out.append("results/overview.csv")
    return out


def report_command(workflow):
    """The command that writes results/report.html for this same workflow and config."""
    configfiles = " ".join(f"'{f}'" for f in workflow.overwrite_configfiles)
    return (f"snakemake --snakefile '{workflow.main_snakefile}' --directory '{os.getcwd()}' "
            + (f"--configfile {configfiles} " if configfiles else "")
            + "--report results/report.html --quiet all > results/logs/report.log 2>&1 "
            + "|| echo 'janusfit: the HTML report failed; see results/logs/report.log'")
