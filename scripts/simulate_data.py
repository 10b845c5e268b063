"""Rule simulate_data: the embedded default data, generated with a fixed seed."""

from janusfit.job import job
from janusfit.stages.simulate import simulate

with job(snakemake) as j:
    simulate(spec=j.params.spec, out_csv=j.output.csv, out_cov=j.output.cov, out_truth=j.output.truth, log=j.log)
