"""Rule corner: emcee and dynesty posteriors overlaid."""

from janusfit.job import job
from janusfit.stages.diagnose import corner

with job(snakemake) as j:
    corner(
        config=j.config,
        dataset=j.dataset,
        model=j.model,
        chain_h5=j.input.get("chain"),
        convergence_json=j.input.get("convergence"),
        samples_h5=j.input.get("samples"),
        out_png=j.output[0],
        truth_json=j.input.get("truth"),
    )
