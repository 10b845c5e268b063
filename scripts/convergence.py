"""Rule convergence: tau, R-hat, ESS and acceptance checks of the emcee chain."""

from janusfit.job import job
from janusfit.stages.diagnose import convergence

with job(snakemake) as j:
    convergence(
        config=j.config,
        dataset=j.dataset,
        model=j.model,
        chain_h5=j.input.chain,
        out_json=j.output.json,
        trace_png=j.output.trace,
        log=j.log,
        run_json=j.input.run,
    )
