"""Rule inspect_data: load and validate a dataset, describe it."""

from janusfit.job import job
from janusfit.stages.data import inspect

with job(snakemake) as j:
    inspect(config=j.config, dataset=j.dataset, out_json=j.output.json, log=j.log)
