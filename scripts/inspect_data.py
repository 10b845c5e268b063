"""Rule inspect_data: load and validate a dataset, describe it, plot it."""
from janusfit.logs import job_logger, reported
from janusfit.stages.data import inspect

log = job_logger(snakemake.log[0])
with reported(log):
    inspect(snakemake.config, snakemake.wildcards.dataset, snakemake.output.json, snakemake.output.png, log)
