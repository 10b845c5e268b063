"""Rule export_table: a LaTeX table of a dataset's constraints and Bayes factors."""
from pathlib import Path

from janusfit.export import export_table
from janusfit.logs import job_logger, reported

log = job_logger(snakemake.log[0])
with reported(log):
    out = Path(snakemake.output[0])
    export_table(out.parent, models=snakemake.params.models, out_path=out)
    log.info(f"wrote {out}")
