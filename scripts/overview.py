"""Rule overview: one table of every run for the report."""
from janusfit.job import job
from janusfit.stages.compare import overview

with job(snakemake) as j:
    overview(summary_paths=list(j.input), out_csv=j.output[0])
