# Model comparison per dataset, and the overview table of every run.

# Light: run where Snakemake runs, also under a cluster executor.
localrules: compare, overview


rule compare:
    input:
        lambda wc: [f"{run_dir(wc.dataset, model)}/summary.json" for model in MODELS],
    output:
        json=results("{dataset}/comparison.json"),
        csv=report(
            results("{dataset}/comparison.csv"),
            caption="../report/comparison.rst",
            category="Evidence",
            labels={"dataset": "{dataset}", "table": "model comparison"},
        ),
    log:
        results("logs/compare/{dataset}.log"),
    threads: 1
    conda:
        "../envs/janusfit.yaml"
    script:
        "../../scripts/compare.py"


rule overview:
    input:
        [f"{run_dir(d, m)}/summary.json" for d, m in RUNS],
    output:
        report(
            results("overview.csv"),
            caption="../report/overview.rst",
            category="Summary",
            labels={"table": "all runs"},
        ),
    log:
        results("logs/overview.log"),
    threads: 1
    conda:
        "../envs/janusfit.yaml"
    script:
        "../../scripts/overview.py"
