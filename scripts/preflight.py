"""Rule preflight: check a run before its samplers start; record their memory and runtime estimates."""
from janusfit.logs import job_logger, reported
from janusfit.stages.preflight import preflight_run

log = job_logger(snakemake.log[0])
with reported(log):
    o = snakemake.output
    preflight_run(snakemake.config, snakemake.wildcards.dataset, snakemake.wildcards.model,
                  snakemake.input.data, snakemake.resources.mem_mb, o.json, o.table, o.resources, log)
