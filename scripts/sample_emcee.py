"""Rule emcee: checkpointed, resumable MCMC of one run, with its memory record."""

from janusfit.job import job
from janusfit.stages.sample import sample_emcee

with job(snakemake) as j:
    sample_emcee(
        config=j.config,
        dataset=j.dataset,
        model=j.model,
        checkpoint_dir=j.params.checkpoint_dir,
        chain_path=j.output.chain,
        run_json=j.output.run,
        data_json=j.input.data,
        memory_json=j.output.memory_json,
        log=j.log,
        threads=j.threads,
        granted_mem_mb=j.resources.mem_mb,
    )
