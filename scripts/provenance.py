"""Rule provenance: the report's Provenance page."""

from janusfit.job import job
from janusfit.stages.report import provenance_page

with job(snakemake) as j:
    provenance_page(
        config=j.config,
        summary_paths=list(j.input.summaries),
        data_paths=list(j.input.data),
        package_versions=j.params.versions,
        out_html=j.output[0],
    )
