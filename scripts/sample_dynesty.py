"""Rule dynesty: checkpointed, resumable nested sampling of one run, with its memory record."""

from janusfit.job import job
from janusfit.stages.sample import sample_dynesty

with job(snakemake) as j:
    sample_dynesty(
        config=j.config,
        dataset=j.dataset,
        model=j.model,
        checkpoint_dir=j.params.checkpoint_dir,
        samples_path=j.output.samples,
        evidence_json=j.output.evidence,
        data_json=j.input.data,
        memory_json=j.output.memory_json,
        log=j.log,
        threads=j.threads,
        granted_mem_mb=j.resources.mem_mb,
    )
