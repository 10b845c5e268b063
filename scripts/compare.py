"""Rule compare: Bayes factors, AIC and BIC for every pair of models on a dataset."""

from janusfit.job import job
from janusfit.stages.compare import compare

with job(snakemake) as j:
    compare(summary_paths=list(j.input), out_json=j.output.json, out_csv=j.output.csv, log=j.log)
