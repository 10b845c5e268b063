"""Rule summary: the run's summary.json, and the figures of its sampling jobs' memory."""

from janusfit.job import job
from janusfit.resources.usage import run_resources
from janusfit.stages.diagnose import summary

with job(snakemake) as j:
    i = j.input
    emcee_files = (i.chain, i.run, i.convergence) if "chain" in i.keys() else None
    memory = {s: i[f"memory_{s}"] for s in j.config["samplers"]}
    summary(
        config=j.config,
        dataset=j.dataset,
        model=j.model,
        out_json=j.output.json,
        emcee_files=emcee_files,
        dynesty_json=i.get("evidence"),
        dynesty_samples=i.get("samples"),
        resources=run_resources(i.resources, memory),
        memory_figures={s: (path, j.output[f"memory_{s}"]) for s, path in memory.items()},
        log=j.log,
    )
