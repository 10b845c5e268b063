"""Rule summary: the run's summary.json."""
from janusfit.logs import job_logger, reported
from janusfit.resources.usage import run_resources
from janusfit.stages.diagnose import summary

log = job_logger(snakemake.log[0])
with reported(log):
    i = snakemake.input
    emcee_files = (i.chain, i.run, i.convergence) if "chain" in i.keys() else None
    memory = {s: i[f"memory_{s}"] for s in snakemake.config["samplers"]}
    summary(snakemake.config, snakemake.wildcards.dataset, snakemake.wildcards.model, snakemake.output[0],
            emcee_files=emcee_files, dynesty_json=i.get("evidence"), resources=run_resources(i.resources, memory),
            log=log)
