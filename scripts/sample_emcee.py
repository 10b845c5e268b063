"""Rule emcee: checkpointed, resumable MCMC of one run."""
from janusfit.logs import job_logger, reported
from janusfit.stages.sample import sample_emcee

log = job_logger(snakemake.log[0])
with reported(log):
    sample_emcee(snakemake.config, snakemake.wildcards.dataset, snakemake.wildcards.model,
                 snakemake.params.checkpoint, snakemake.output.chain, snakemake.output.run, log)
