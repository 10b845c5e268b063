"""Rule dynesty: checkpointed, resumable nested sampling of one run, with its memory record."""
from janusfit.logs import job_logger, reported
from janusfit.stages.sample import sample_dynesty

log = job_logger(snakemake.log[0])
with reported(log):
    o = snakemake.output
    sample_dynesty(snakemake.config, snakemake.wildcards.dataset, snakemake.wildcards.model,
                   snakemake.params.checkpoint, o.samples, o.evidence, snakemake.input.data, o.memory_json,
                   o.memory_png, log, granted_mem_mb=snakemake.resources.mem_mb)
