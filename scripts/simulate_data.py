"""Rule simulate_data: the embedded default data, generated with a fixed seed."""
from janusfit.logs import job_logger, reported
from janusfit.stages.data import simulate

log = job_logger(snakemake.log[0])
with reported(log):
    simulate(snakemake.params.spec, snakemake.output.csv, snakemake.output.cov, snakemake.output.truth, log)
