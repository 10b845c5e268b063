# Exports for other tools: GetDist chains and an ArviZ file per run, a LaTeX
# table per dataset (janusfit.export; `janusfit export` writes the same files).


# Light: run where Snakemake runs, also under a cluster executor.
localrules:
    export,
    export_table,


rule export:
    input:
        unpack(export_inputs),
    output:
        directory(f"{RESULTS}/{{dataset}}/{{model}}/export"),
    log:
        f"{RESULTS}/logs/export/{{dataset}}/{{model}}.log",
    conda:
        "../envs/janusfit.yaml"
    threads: 1
    params:
        code=library_code("export_run"),
    script:
        "../../scripts/export_run.py"


rule export_table:
    input:
        summaries=lambda wc: expand(f"{RESULTS}/{{dataset}}/{{model}}/summary.json", dataset=wc.dataset, model=MODELS),
        comparison=lambda wc: [f"{RESULTS}/{wc.dataset}/comparison.json"] if has_comparison() else [],
    output:
        f"{RESULTS}/{{dataset}}/constraints.tex",
    log:
        f"{RESULTS}/logs/export/{{dataset}}.log",
    conda:
        "../envs/janusfit.yaml"
    threads: 1
    params:
        code=library_code("export_table"),
        # The table's rows follow the models' order: a new order is a new table.
        models=MODELS,
    script:
        "../../scripts/export_table.py"
