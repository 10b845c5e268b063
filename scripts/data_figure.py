"""Rule data_figure: the figure of a dataset as read."""

from janusfit.job import job
from janusfit.stages.data_figure import data_figure

with job(snakemake) as j:
    data_figure(config=j.config, dataset=j.dataset, out_png=j.output.png)
