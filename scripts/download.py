"""Rule download: fetch a public release, refusing a checksum mismatch (or recording the first checksum)."""
from janusfit.logs import job_logger, reported
from janusfit.stages.data import fetch

log = job_logger(snakemake.log[0])
with reported(log):
    fetch(snakemake.params.url, snakemake.output[0], snakemake.params.sha256, log, key=snakemake.params.key)
