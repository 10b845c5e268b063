"""Rule preflight: check a run before its samplers start; record their memory and runtime estimates."""

from janusfit.job import job
from janusfit.stages.preflight import preflight_run

with job(snakemake) as j:
    preflight_run(
        config=j.config,
        dataset=j.dataset,
        model=j.model,
        data_json=j.input.data,
        granted_mem_mb=j.resources.mem_mb,
        out_json=j.output.json,
        out_table=j.output.table,
        resources_json=j.output.resources,
        log=j.log,
        threads=j.threads,
    )
