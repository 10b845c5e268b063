"""Rule corner: emcee and dynesty posteriors overlaid."""
from janusfit.logs import job_logger, reported
from janusfit.stages.diagnose import corner

log = job_logger(snakemake.log[0])
with reported(log):
    i = snakemake.input
    corner(snakemake.config, snakemake.wildcards.dataset, snakemake.wildcards.model,
           i.get("chain"), i.get("convergence"), i.get("samples"), snakemake.output[0], i.get("truth"))
