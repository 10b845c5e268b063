"""Rule hubble: the dataset's Hubble diagram with each model's fit, for the report."""

from janusfit.job import job
from janusfit.stages.report import hubble_figure

with job(snakemake) as j:
    runs = {
        model: {"chain": chain, "convergence": conv, "summary": summary}
        for model, chain, conv, summary in zip(j.params.models, j.input.chains, j.input.convergence, j.input.summaries)
    }
    hubble_figure(config=j.config, dataset=j.dataset, runs=runs, out_png=j.output[0])
