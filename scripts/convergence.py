"""Rule convergence: tau, R-hat, ESS and acceptance checks of the emcee chain."""
from janusfit.logs import job_logger, reported
from janusfit.stages.diagnose import convergence

log = job_logger(snakemake.log[0])
with reported(log):
    convergence(snakemake.config, snakemake.wildcards.dataset, snakemake.wildcards.model,
                snakemake.input.chain, snakemake.output.json, snakemake.output.trace, log)
