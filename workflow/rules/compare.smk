# Model comparison per dataset, and the overview table of every run.


# Light: run where Snakemake runs, also under a cluster executor.
localrules:
    compare,
    overview,


rule compare:
    input:
        lambda wc: [f"{run_dir(wc.dataset, model)}/summary.json" for model in MODELS],
    output:
        json=results("{dataset}/comparison.json"),
        csv=report(
            results("{dataset}/comparison.csv"),
            caption="../report/comparison.rst",
            category="Tables (CSV)",
            labels={"table": "model comparison on {dataset}"},
        ),
    log:
        results("logs/compare/{dataset}.log"),
    conda:
        "../envs/janusfit.yaml"
    threads: 1
    params:
        code=library_code("compare"),
        # Their order orients each pair (ln B = ln Z of the earlier model minus
        # the later's), which the order of the inputs does not rerun.
        models=MODELS,
    script:
        "../../scripts/compare.py"


rule overview:
    input:
        summaries=[f"{run_dir(d, m)}/summary.json" for d, m in RUNS],
        # Aligned with the summaries; empty without emcee.
        convergence=[f"{run_dir(d, m)}/convergence.json" for d, m in RUNS] if "emcee" in SAMPLERS else [],
        comparisons=[results(f"{d}/comparison.json") for d in DATASETS] if has_comparison() else [],
    output:
        csv=report(
            results("overview.csv"),
            caption="../report/overview_csv.rst",
            category="Tables (CSV)",
            labels={"table": "every run (overview.csv)"},
        ),
        # The Overview page: the report's first category (categories are
        # listed alphabetically), shown in the page rather than downloaded.
        html=report(
            results("overview.html"),
            caption="../report/overview.rst",
            category="Overview",
            labels={"page": "model comparison and every run"},
        ),
        # Included in the report's landing page (workflow/report/workflow.rst).
        landing=results("overview_landing.html"),
    log:
        results("logs/overview.log"),
    conda:
        "../envs/janusfit.yaml"
    threads: 1
    params:
        code=library_code("overview"),
        datasets=DATASETS if has_comparison() else [],
        meta=config.get("run", {}),
        # Its rows follow the runs' order (datasets, then models), with or without a comparison.
        runs=[f"{d}/{m}" for d, m in RUNS],
    script:
        "../../scripts/overview.py"
