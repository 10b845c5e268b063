"""Resource requests of the workflow's rules, as the Snakefile asks for them.

Called while Snakemake plans jobs, so every function here is cheap and reads
only the config and the small JSON files of earlier rules (``data.json`` for
the size of the data, ``resources.json`` for a recorded runtime estimate).
"""

from __future__ import annotations

from ..config import members, param_names, run_settings
from ..data.loaders import FORMATS
from ..errors import ConfigError
from ..result_files import read_result
from ..sampling.registry import SAMPLERS
from .cores import CoreCounts, cores_from_config, detect_cores, heavy_policy, threads_for
from .memory import mem_mb_for_attempt
from .runtime import runtime_for_attempt


def core_counts(config: dict, on_cluster: bool = False, emcee_set_threads: int | None = None):
    """Cores from config ``cores: {performance, efficiency}``, else detected.

    Efficiency cores left out count none; performance cores left out beside
    an efficiency count are this machine's, as the schema lets either be
    left out.

    ``on_cluster``: the sampling jobs run on other machines (SLURM compute
    nodes); the cores detected here, on the submitting (login) node, say
    nothing about those machines. There the profile's ``set-threads`` of emcee
    (``emcee_set_threads``), which Snakemake gives emcee's jobs whatever their
    rule says, are the performance cores, so that the pre-flight job times up
    to as many; else the config must set them.
    """
    if on_cluster and emcee_set_threads:
        return CoreCounts(int(emcee_set_threads), 0, "the profile's set-threads of emcee")
    given = {
        k: v for k, v in (config.get("cores") or {}).items() if k in ("performance", "efficiency") and v is not None
    }
    if "performance" not in given and on_cluster:
        here = detect_cores()
        raise ConfigError(
            "cores",
            f"the sampling jobs run on SLURM compute nodes, and this machine's cores ({here.performance} "
            f"performance, {here.efficiency} efficiency) say nothing about theirs; set "
            "'cores: {performance: P}' in the config (P threads, as many CPUs per task, for each emcee job) "
            "or 'set-threads: {emcee: P}' in the profile",
        )
    if not given:
        return detect_cores()
    if "performance" not in given:
        given["performance"] = detect_cores().performance
    return cores_from_config(given)


def heavy_threads(config: dict, counts) -> int:
    """The most threads a sampling job may have: the pre-flight job's, which measures up to that many."""
    return threads_for("heavy", counts, config["cores"]["heavy"])


def preflight_threads(config: dict, counts, dataset: str) -> int:
    """The pre-flight job's ``threads``: the most a sampling job may have where it will time them, else 1.

    It times 1 … P threads only under the measured policy and only for a
    likelihood whose rows are heavy enough to share out (a format with
    ``heavy_rows``: light curves). Any other run, and every run under a fixed
    policy, has nothing for more threads to decide, and a job holding P cores
    for one would keep the other jobs off them.
    """
    if heavy_policy(config["cores"]["heavy"]).measured and heavy_rows(config, dataset):
        return heavy_threads(config, counts)
    return 1


def heavy_rows(config: dict, dataset: str) -> bool:
    """Whether the likelihood of ``dataset`` has rows heavy enough to share out (a format with ``heavy_rows``)."""
    formats = [FORMATS.get(config["datasets"][d].get("format")) for d in members(config, dataset)]
    return any(getattr(f, "heavy_rows", False) for f in formats)


def sampling_threads(config: dict, counts, *, dataset: str, resources_json, sampler: str, unmeasured: int) -> int:
    """A sampling job's ``threads``: what the pre-flight job measured paid (``cores.heavy: measured``), else ``unmeasured``.

    Before the pre-flight job has written ``resources.json`` (``snakemake -n``
    of a fresh run) the measured policy shows the most it may choose (1 where
    the pre-flight job times one thread only); Snakemake asks again once the
    file exists, before it starts the job.
    """
    from .threads import measured_threads

    if heavy_policy(config["cores"]["heavy"]).measured:
        most = preflight_threads(config, counts, dataset)
        return min(measured_threads(resources_json, sampler, fallback=most), most)
    return unmeasured


def data_shape(data_json) -> tuple[int, bool, float]:
    """(number of rows read, any full covariance, largest redshift) from ``data.json``.

    Rows read count those a release's cut drops (Pantheon+: 1701 read, 1590
    fitted): its whole covariance file is parsed and checked.
    """
    info = read_result(data_json)
    members = info["members"]
    return (
        sum(m.get("n_read") or m["n"] for m in members),
        any(m["errors"] == "full covariance" for m in members),
        max(m["z_max"] for m in members),
    )


def systematic_matrices(config: dict, data_json) -> tuple[tuple[int, int], ...]:
    """(how many, N) of the N × N systematic matrices of each member that has them (``covmats``)."""
    members = read_result(data_json)["members"]
    counts = [(len(config["datasets"][m["name"]].get("covmats") or {}), m.get("n_read") or m["n"]) for m in members]
    return tuple((count, n) for count, n in counts if count)


def memory_estimate(config: dict, dataset: str, model: str, sampler: str, data_json, threads: int = 1):
    """The sampling job's memory estimate, the job running on ``threads`` threads."""
    n_data, full_cov, z_max = data_shape(data_json)
    settings = getattr(run_settings(config, dataset, model), sampler)
    n_params = len(param_names(config, dataset, model))
    return SAMPLERS[sampler].call(
        "memory",
        settings,
        n_params,
        n_data,
        full_cov,
        z_max,
        systematics=systematic_matrices(config, data_json),
        threads=threads,
    )


def mem_mb(config: dict, dataset: str, model: str, sampler: str, data_json, attempt: int, threads: int = 1) -> int:
    estimate = memory_estimate(config, dataset, model, sampler, data_json, threads)
    return mem_mb_for_attempt(estimate.total_mb, attempt)


def preflight_mem_mb(config: dict, dataset: str, model: str, samplers, data_json, threads: int = 1) -> int:
    """The largest first-attempt ``mem_mb`` of the run's sampling jobs, each on as many threads as this job.

    The pre-flight job asks for what they will ask for, so that what Snakemake
    grants it (lowered to ``--resources mem_mb`` when that is smaller) tells
    it whether they will fit; its ``threads`` are the most they may have.
    """
    return max(mem_mb(config, dataset, model, s, data_json, 1, threads) for s in samplers)


def runtime_min(config: dict, resources_json, sampler: str, attempt: int) -> int:
    return runtime_for_attempt(resources_json, config["resources"]["runtime_min"], attempt, section=sampler)
