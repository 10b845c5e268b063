# The report's Provenance page (its Overview is written by the overview rule)
# and each dataset's Hubble diagram with the models' fits.


# Light: run where Snakemake runs, also under a cluster executor.
localrules:
    provenance,
    hubble,


rule provenance:
    input:
        summaries=[f"{run_dir(d, m)}/summary.json" for d, m in RUNS],
        data=[results(f"{d}/data.json") for d in DATASETS],
    output:
        report(
            results("provenance.html"),
            caption="../report/provenance.rst",
            category="Provenance",
            labels={"page": "config, fingerprints, data files, versions"},
        ),
    log:
        results("logs/provenance.log"),
    conda:
        "../envs/janusfit.yaml"
    threads: 1
    params:
        code=library_code("provenance"),
        # The page shows the config these results were made with: a setting
        # that changes a result remakes a summary, and so this page; one that
        # changes none (a checkpoint interval) reruns nothing, here as elsewhere.
        meta=config.get("run", {}),
        versions=provenance_page.versions(),
        # The order of models, datasets and runs, which the page's config and
        # tables show and a comparison (model a : b) follows, changes no summary.
        models=MODELS,
        runs=[f"{d}/{m}" for d, m in RUNS],
    script:
        "../../scripts/provenance.py"


rule hubble:
    input:
        unpack(hubble_inputs),
    output:
        report(
            results("{dataset}/hubble.png"),
            caption="../report/hubble.rst",
            category="Per dataset",
            subcategory="{dataset}",
            labels={"result": "each model's fit"},
        ),
    log:
        results("logs/hubble/{dataset}.log"),
    conda:
        "../envs/janusfit.yaml"
    threads: 1
    params:
        code=library_code("hubble"),
        models=MODELS,
    script:
        "../../scripts/hubble.py"
