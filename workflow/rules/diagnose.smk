# Diagnostics: convergence of the emcee chain, corner plot, run summary.

# Light: run where Snakemake runs, also under a cluster executor.
localrules: convergence, corner, summary


rule convergence:
    input:
        chain=results("{dataset}/{model}/emcee/chain.h5"),
    output:
        json=results("{dataset}/{model}/convergence.json"),
        trace=report(
            results("{dataset}/{model}/trace.png"),
            caption="../report/trace.rst",
            category="Convergence",
            labels={"dataset": "{dataset}", "model": "{model}"},
        ),
    params:
        settings=settings_of("convergence"),
    log:
        results("logs/convergence/{dataset}/{model}.log"),
    threads: 1
    conda:
        "../envs/janusfit.yaml"
    script:
        "../../scripts/convergence.py"


rule corner:
    input:
        unpack(lambda wc: {**draws_inputs(wc), **({"truth": truth_file(wc)[0]} if truth_file(wc) else {})}),
    output:
        report(
            results("{dataset}/{model}/corner.png"),
            caption="../report/corner.rst",
            category="Posteriors",
            labels={"dataset": "{dataset}", "model": "{model}"},
        ),
    log:
        results("logs/corner/{dataset}/{model}.log"),
    threads: 1
    conda:
        "../envs/janusfit.yaml"
    script:
        "../../scripts/corner.py"


rule summary:
    input:
        unpack(summary_inputs),
    output:
        results("{dataset}/{model}/summary.json"),
    log:
        results("logs/summary/{dataset}/{model}.log"),
    threads: 1
    conda:
        "../envs/janusfit.yaml"
    script:
        "../../scripts/summarize.py"
