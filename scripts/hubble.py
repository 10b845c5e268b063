"""Rule hubble: the dataset's Hubble diagram with each model's fit, for the report."""

from janusfit.job import job
from janusfit.stages.report import HUBBLE_FILES, hubble_figure

with job(snakemake) as j:
    named = j.input.keys()
    runs = {
        model: {key: j.input[f"{key}_{model}"] for key in HUBBLE_FILES if f"{key}_{model}" in named}
        for model in j.params.models
    }
    hubble_figure(config=j.config, dataset=j.dataset, runs=runs, out_png=j.output[0])
