"""Rule export: GetDist chains, an ArviZ InferenceData file and a manifest for one finished run."""
from pathlib import Path

from janusfit.export import export_run
from janusfit.logs import job_logger, reported

log = job_logger(snakemake.log[0])
with reported(log):
    out = Path(snakemake.output[0])
    written = export_run(out.parent, out)
    log.info(f"exported {snakemake.wildcards.dataset}/{snakemake.wildcards.model}: "
             + ", ".join(p.name for p in written))
