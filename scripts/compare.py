"""Rule compare: Bayes factors, AIC and BIC for every pair of models on a dataset."""
from janusfit.logs import job_logger, reported
from janusfit.stages.compare import compare

log = job_logger(snakemake.log[0])
with reported(log):
    compare(list(snakemake.input), snakemake.output.json, snakemake.output.csv, log)
