# Data stage: simulate the default data, download releases, validate and draw each dataset.


# All light, and run where Snakemake runs under a cluster executor too (compute
# nodes often have no internet for the downloads).
localrules:
    simulate_data,
    download,
    inspect_data,
    data_figure,


rule simulate_data:
    output:
        **data_sources.SIMULATED_FILES,
    log:
        results("logs/simulate_data/{name}.log"),
    wildcard_constraints:
        name="|".join(re.escape(n) for n in data_sources.simulated_datasets(config)) or "^$",
    conda:
        "../envs/janusfit.yaml"
    threads: 1
    params:
        code=library_code("simulate_data", models=[SIMULATION_TRUTH]),
        # n_sn and seed written out (as config.yaml does), left out, in another order or as
        # floats: the same files, no rerun.
        spec=lambda wc: data_sources.simulation_spec(config["datasets"][wc.name]),
    script:
        "../../scripts/simulate_data.py"


# Only downloads whose file is missing from the cache (or differs from its
# pin, or has no recorded checksum yet) are jobs: a verified download has no
# job that could delete it.
DOWNLOADS = data_sources.downloads(config)


rule download:
    output:
        "{download}",
    log:
        results("logs/download/{download}.log"),
    wildcard_constraints:
        download="|".join(re.escape(p) for p in DOWNLOADS) or "^$",
    conda:
        "../envs/janusfit.yaml"
    threads: 1
    params:
        url=lambda wc: DOWNLOADS[wc.download][0],
        sha256=lambda wc: DOWNLOADS[wc.download][1],
        key=lambda wc: DOWNLOADS[wc.download][2],
    script:
        "../../scripts/download.py"


rule inspect_data:
    input:
        dataset_files,
    output:
        json=results("{dataset}/data.json"),
    log:
        results("logs/inspect_data/{dataset}.log"),
    conda:
        "../envs/janusfit.yaml"
    threads: 1
    params:
        # The data read use no model.
        code=library_code("inspect_data", models=[]),
        # How the data are read and each file's sha256, taken now: a file
        # whose content changed reruns this job even if its date is older.
        data=lambda wc: data_sources.identity(config, janusfit_config.members(config, wc.dataset)),
    script:
        "../../scripts/inspect_data.py"


# Its own rule, not inspect_data's: every sampler reads data.json, and an edit
# of a figure would rerun them all.
rule data_figure:
    input:
        # The validated dataset: its description changes whenever the data or their reading do.
        data=results("{dataset}/data.json"),
    output:
        png=report(
            results("{dataset}/data.png"),
            caption="../report/data.rst",
            category="Per dataset",
            subcategory="{dataset}",
            labels={"result": "the data"},
        ),
    log:
        results("logs/data_figure/{dataset}.log"),
    conda:
        "../envs/janusfit.yaml"
    threads: 1
    params:
        code=library_code("data_figure", models=[]),
    script:
        "../../scripts/data_figure.py"
