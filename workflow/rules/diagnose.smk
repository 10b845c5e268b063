# Diagnostics: convergence of the emcee chain, corner plot, run summary.


# Light: run where Snakemake runs, also under a cluster executor.
localrules:
    convergence,
    corner,
    summary,


rule convergence:
    input:
        chain=results("{dataset}/{model}/emcee/chain.h5"),
        run=results("{dataset}/{model}/emcee/run.json"),
    output:
        json=results("{dataset}/{model}/convergence.json"),
        trace=report(
            results("{dataset}/{model}/trace.png"),
            caption="../report/trace.rst",
            category="Per run",
            subcategory="{dataset}/{model}",
            labels={"result": "emcee trace, burn-in and τ"},
        ),
    log:
        results("logs/convergence/{dataset}/{model}.log"),
    conda:
        "../envs/janusfit.yaml"
    threads: 1
    params:
        code=library_code("convergence"),
        settings=settings_of("convergence"),
    script:
        "../../scripts/convergence.py"


rule corner:
    input:
        unpack(lambda wc: {**draws_inputs(wc), **({"truth": truth_file(wc)[0]} if truth_file(wc) else {})}),
    output:
        report(
            results("{dataset}/{model}/corner.png"),
            caption="../report/corner.rst",
            category="Per run",
            subcategory="{dataset}/{model}",
            labels={"result": "corner plot, " + " and ".join(SAMPLERS)},
        ),
    log:
        results("logs/corner/{dataset}/{model}.log"),
    conda:
        "../envs/janusfit.yaml"
    threads: 1
    params:
        code=library_code("corner"),
    script:
        "../../scripts/corner.py"


rule summary:
    input:
        unpack(summary_inputs),
    # The figures of the sampling jobs' memory are drawn here: drawn in those
    # jobs, matplotlib's import and rendering were part of their peak.
    output:
        **memory_reports(),
        json=results("{dataset}/{model}/summary.json"),
    log:
        results("logs/summary/{dataset}/{model}.log"),
    conda:
        "../envs/janusfit.yaml"
    threads: 1
    params:
        code=library_code("summarize"),
    script:
        "../../scripts/summarize.py"
