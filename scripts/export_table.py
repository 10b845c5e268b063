"""Rule export_table: a LaTeX table of a dataset's constraints and Bayes factors."""
from janusfit.export import export_table
from janusfit.logs import job_logger, reported

log = job_logger(snakemake.log[0])
with reported(log):
    comparison = snakemake.input.comparison
    export_table(list(snakemake.input.summaries), comparison[0] if comparison else None, snakemake.output[0])
    log.info(f"wrote {snakemake.output[0]}")
