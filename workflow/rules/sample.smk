# Sampling stage. Sampler state lives under <results_dir>/checkpoints/, which is not a
# declared output: Snakemake deletes declared outputs before rerunning a job,
# and the checkpoint is exactly what must survive that. Under a cluster
# executor these three rules are the ones submitted as jobs; preflight goes
# with them because it times the likelihood and checks memory where the
# samplers will run.


rule preflight:
    input:
        data=results("{dataset}/data.json"),
    output:
        json=results("{dataset}/{model}/preflight.json"),
        table=report(
            results("{dataset}/{model}/preflight.csv"),
            caption="../report/preflight.rst",
            category="Per run",
            subcategory="{dataset}/{model}",
            labels={"result": "pre-flight checks (CSV)"},
        ),
        # An output of this rule and an input of the samplers: a retry or a
        # rerun of a sampling job keeps it, and its runtime is read from it.
        resources=results("{dataset}/{model}/resources.json"),
    log:
        results("logs/preflight/{dataset}/{model}.log"),
    conda:
        "../envs/janusfit.yaml"
    # Under the measured policy, the most a sampling job may have, where it
    # times the likelihood with 1 … that many; otherwise one.
    threads: lambda wc: resource_requests.preflight_threads(config, CORES, wc.dataset)
    resources:
        mem_mb=lambda wc, input, threads: resource_requests.preflight_mem_mb(
            config, wc.dataset, wc.model, SAMPLERS, input.data, threads
        ),
    params:
        code=library_code("preflight"),
        settings=settings_of("preflight"),
    script:
        "../../scripts/preflight.py"


rule emcee:
    input:
        unpack(sampling_inputs),
    output:
        **sampler_outputs("emcee"),
        memory_json=results("{dataset}/{model}/emcee/memory.json"),
    log:
        results("logs/emcee/{dataset}/{model}.log"),
    benchmark:
        results("benchmarks/emcee/{dataset}/{model}.tsv")
    conda:
        "../envs/janusfit.yaml"
    threads: sampling_threads("emcee", unmeasured=resource_requests.heavy_threads(config, CORES))
    resources:
        mem_mb=lambda wc, input, threads, attempt: resource_requests.mem_mb(
            config, wc.dataset, wc.model, "emcee", input.data, attempt, threads
        ),
        runtime=lambda wc, input, attempt: resource_requests.runtime_min(config, input.resources, "emcee", attempt),
    params:
        code=library_code("sample_emcee"),
        checkpoint_dir=lambda wc: checkpoint_dir(wc, "emcee"),
        # A changed stopping rule or max_steps reruns the job, which resumes
        # its checkpoint (the fingerprint is the same) and cuts or continues it.
        settings=settings_of("emcee"),
    script:
        "../../scripts/sample_emcee.py"


rule dynesty:
    input:
        unpack(sampling_inputs),
    output:
        **sampler_outputs("dynesty"),
        memory_json=results("{dataset}/{model}/dynesty/memory.json"),
    log:
        results("logs/dynesty/{dataset}/{model}.log"),
    benchmark:
        results("benchmarks/dynesty/{dataset}/{model}.tsv")
    conda:
        "../envs/janusfit.yaml"
    threads: sampling_threads("dynesty", unmeasured=1)
    resources:
        mem_mb=lambda wc, input, threads, attempt: resource_requests.mem_mb(
            config, wc.dataset, wc.model, "dynesty", input.data, attempt, threads
        ),
        runtime=lambda wc, input, attempt: resource_requests.runtime_min(config, input.resources, "dynesty", attempt),
    params:
        code=library_code("sample_dynesty"),
        checkpoint_dir=lambda wc: checkpoint_dir(wc, "dynesty"),
        settings=settings_of("dynesty"),
    script:
        "../../scripts/sample_dynesty.py"
