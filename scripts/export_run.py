"""Rule export: GetDist chains, an ArviZ InferenceData file and a manifest for one finished run."""

from pathlib import Path

from janusfit.export import export_run
from janusfit.job import job

with job(snakemake) as j:
    out = Path(j.output[0])
    written = export_run(out.parent, out)
    j.log.info(f"exported {j.dataset}/{j.model}: " + ", ".join(p.name for p in written))
