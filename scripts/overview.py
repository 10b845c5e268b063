"""Rule overview: the table of every run (CSV) and the report's Overview page (HTML)."""

from janusfit.job import job
from janusfit.stages.compare import overview
from janusfit.stages.report import overview_page

with job(snakemake) as j:
    overview(summary_paths=list(j.input.summaries), out_csv=j.output.csv)
    overview_page(
        summary_paths=list(j.input.summaries),
        convergence_paths=list(j.input.convergence),
        comparison_paths=dict(zip(j.params.datasets, j.input.comparisons)),
        meta=j.params.meta,
        out_html=j.output.html,
        out_landing=j.output.landing,
    )
