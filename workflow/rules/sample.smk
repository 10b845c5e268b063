# Sampling stage. Sampler state lives under results/checkpoints/, which is not a
# declared output: Snakemake deletes declared outputs before rerunning a job,
# and the checkpoint is exactly what must survive that.


rule emcee:
    input:
        data="results/{dataset}/data.json",
    output:
        chain="results/{dataset}/{model}/emcee/chain.h5",
        run="results/{dataset}/{model}/emcee/run.json",
    params:
        checkpoint=lambda wc: checkpoint_dir(wc, "emcee"),
    log:
        "results/logs/emcee/{dataset}/{model}.log",
    benchmark:
        "results/benchmarks/emcee/{dataset}/{model}.tsv"
    threads: jres.heavy_threads(config, CORES)
    resources:
        mem_mb=lambda wc, input, attempt: jres.mem_mb(config, wc.dataset, wc.model, "emcee", input.data, attempt),
        runtime=lambda wc, attempt: jres.runtime_min(config, f"results/{wc.dataset}/{wc.model}/resources.json", attempt),
    retries: 1
    script:
        "../../scripts/sample_emcee.py"


rule dynesty:
    input:
        data="results/{dataset}/data.json",
    output:
        samples="results/{dataset}/{model}/dynesty/samples.h5",
        evidence="results/{dataset}/{model}/dynesty/evidence.json",
    params:
        checkpoint=lambda wc: checkpoint_dir(wc, "dynesty"),
    log:
        "results/logs/dynesty/{dataset}/{model}.log",
    benchmark:
        "results/benchmarks/dynesty/{dataset}/{model}.tsv"
    threads: 1
    resources:
        mem_mb=lambda wc, input, attempt: jres.mem_mb(config, wc.dataset, wc.model, "dynesty", input.data, attempt),
        runtime=lambda wc, attempt: jres.runtime_min(config, f"results/{wc.dataset}/{wc.model}/resources.json", attempt),
    retries: 1
    script:
        "../../scripts/sample_dynesty.py"
