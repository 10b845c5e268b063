"""Rule download: fetch a public release, refusing a checksum mismatch (or recording the first checksum)."""

from janusfit.job import job
from janusfit.stages.data import fetch

with job(snakemake) as j:
    fetch(url=j.params.url, dest=j.output[0], sha256=j.params.sha256, log=j.log, key=j.params.key)
