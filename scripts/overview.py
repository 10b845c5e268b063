"""Rule overview: one table of every run for the report."""
from janusfit.logs import job_logger, reported
from janusfit.stages.compare import overview

log = job_logger(snakemake.log[0])
with reported(log):
    overview(list(snakemake.input), snakemake.output[0])
