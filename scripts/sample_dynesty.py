"""Rule dynesty: checkpointed, resumable nested sampling of one run."""
from janusfit.logs import job_logger, reported
from janusfit.stages.sample import sample_dynesty

log = job_logger(snakemake.log[0])
with reported(log):
    sample_dynesty(snakemake.config, snakemake.wildcards.dataset, snakemake.wildcards.model,
                   snakemake.params.checkpoint, snakemake.output.samples, snakemake.output.evidence, log)
