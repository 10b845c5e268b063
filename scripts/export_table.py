"""Rule export_table: a LaTeX table of a dataset's constraints and Bayes factors."""

from janusfit.export import export_table
from janusfit.job import job

with job(snakemake) as j:
    comparison = j.input.comparison
    export_table(list(j.input.summaries), comparison[0] if comparison else None, j.output[0])
    j.log.info(f"wrote {j.output[0]}")
