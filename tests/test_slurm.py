"""The workflow on a real SLURM cluster, through the shipped profile (workflow/profiles/slurm).

Marked ``slurm`` and left out of the default run. They need a cluster this
machine can submit to, whose nodes share its file system: in CI the one-node
cluster of ``tests/slurm/local-slurm.sh start`` (this machine's CPUs and
memory, no accounting database). ``.ci/run`` starts it, runs

    python -m pytest -m slurm

and stops it. Each test copies the shipped profile and changes only what is
the cluster's (the partition, no account and ``squeue`` for a cluster without
an accounting database), one thread per emcee job so that two jobs fit on a
2-CPU node, and the plugin's first status check after 5 s instead of 40 s.
Every assertion about what SLURM did reads ``scontrol show job`` (finished
jobs are kept an hour, ``MinJobAge``).
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from snakemake_runner import REPO, SNAKEMAKE, env, write_config
from test_checkpoint_store import assert_same_chain, chain_arrays

from janusfit.data import load_dataset, write_simulated
from janusfit.likelihood import Posterior
from janusfit.models import get_model
from janusfit.sampling.emcee_runner import EmceeSettings, time_steps

pytestmark = pytest.mark.slurm

PROFILE = REPO / "workflow/profiles/slurm/config.yaml"
# One emcee run (JANUS on 1000 simulated supernovae, about 1 ms a step) for the
# time-limit and kill tests, with max_steps set (long_run) for LONG_RUN_S of
# sampling on this machine: well over the 1-minute limit of the time-limit test
# even if the machine gets faster meanwhile, and long enough for a resubmitted
# job to find the orphan of a killed Snakemake still running. One thread
# everywhere, so that the chains of every run are the same bit for bit.
LONG_RUN = dict(
    datasets={
        "sim": {
            "kind": "sn",
            "format": "simulated",
            "path": "results/data/sim/hubble.csv",
            "cov": "results/data/sim/hubble.cov",
            "n_sn": 1000,
            "seed": 7,
        }
    },
    run_datasets=["sim"],
    models=["janus"],
    samplers=["emcee"],
    emcee={"checkpoint": {"steps": 5000, "seconds": 20}, "stop": {"enabled": False}},
    cores={"performance": 1, "efficiency": 0},
)
LONG_RUN_S = 150
EMCEE_RUN = "results/sim/janus"


# --- the cluster and the workflow on it --------------------------------------


@pytest.fixture(scope="session")
def partition() -> str:
    """The cluster's default partition; skip without a cluster, fail when it has no node up."""
    if shutil.which("sinfo") is None:
        pytest.skip("no SLURM client here; start a one-node cluster with: tests/slurm/local-slurm.sh start")
    out = subprocess.run(["sinfo", "-h", "-o", "%P %t"], capture_output=True, text=True)
    assert out.returncode == 0, f"sinfo failed; is slurmctld running? {out.stderr}"
    up = [line.split() for line in out.stdout.splitlines() if line.split()[1] in ("idle", "mix", "alloc")]
    assert up, f"no SLURM node is up:\n{out.stdout}"
    return next((p.rstrip("*") for p, _ in up if p.endswith("*")), up[0][0])


def profile(directory: Path, partition: str, **changes) -> Path:
    """The shipped profile with this cluster's settings, in ``directory/profile``."""
    config = yaml.safe_load(PROFILE.read_text())
    config["default-resources"]["slurm_partition"] = partition
    config["set-threads"] = {"emcee": 1}
    config.update(
        {"slurm-no-account": True, "slurm-status-command": "squeue", "slurm-init-seconds-before-status-checks": 5},
        **changes,
    )
    path = directory / "profile" / "config.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config))
    return path.parent


def command(directory: Path, *args: str, configfile: Path | None = None) -> list[str]:
    return [
        *SNAKEMAKE,
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(directory),
        "--workflow-profile",
        str(directory / "profile"),
        *(["--configfile", str(configfile)] if configfile else []),
        *args,
    ]


def snakemake(
    directory: Path, *args: str, configfile: Path | None = None, timeout: float = 1800, check: bool = True
) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        command(directory, *args, configfile=configfile),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env(),
        cwd=directory,
    )
    (directory / f"snakemake-{time.monotonic_ns()}.log").write_text(proc.stdout + proc.stderr)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-6000:]}")
    return proc


def local(directory: Path, *args: str, configfile: Path | None = None) -> None:
    """The same workflow run locally, for reference."""
    cmd = [
        *SNAKEMAKE,
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(directory),
        "--cores",
        "2",
        *(["--configfile", str(configfile)] if configfile else []),
        *args,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, env=env(), cwd=directory)
    assert proc.returncode == 0, proc.stderr[-6000:]


def slurm_jobs(directory: Path) -> list[dict]:
    """``scontrol show job`` of every job run in ``directory``, oldest first, with ``rule`` from its comment."""
    out = subprocess.run(["scontrol", "show", "job", "-o"], capture_output=True, text=True, check=True).stdout
    jobs = []
    for line in out.splitlines():
        fields = dict(re.findall(r"(\S+?)=(\S*)", line))
        if fields.get("WorkDir") == str(directory):
            fields["rule"] = re.match(r"rule_(\w+?)(_wildcards_|$)", fields.get("Comment", "")).group(1)
            jobs.append(fields)
    return sorted(jobs, key=lambda j: int(j["JobId"]))


def cancel_jobs(directory: Path) -> None:
    ids = [j["JobId"] for j in slurm_jobs(directory) if j["JobState"] in ("PENDING", "RUNNING")]
    if ids:
        subprocess.run(["scancel", *ids], check=False)


def minutes(limit: str) -> int:
    """SLURM's [D-]HH:MM:SS as minutes."""
    days, _, hms = limit.rpartition("-")
    h, m, s = map(int, hms.split(":"))
    return int(days or 0) * 1440 + h * 60 + m + math.ceil(s / 60)


def mem_mb(job: dict) -> int:
    value = job["MinMemoryNode"]
    return int(float(value[:-1]) * {"M": 1, "G": 1024}[value[-1]])


def summary(directory: Path, run: str) -> dict:
    return json.loads((directory / run / "summary.json").read_text())


def job_log(directory: Path, rule: str, run: str = "sim/janus") -> str:
    return (directory / "results/logs" / rule / f"{run}.log").read_text()


# --- (1) the default workflow, and (4) what each job asked SLURM for ---------


@pytest.fixture(scope="module")
def default_runs(tmp_path_factory, partition):
    """The default workflow (config/config.yaml) locally and through the profile."""
    runs = {}
    for where in ("local", "slurm"):
        directory = tmp_path_factory.mktemp(f"default_{where}")
        shutil.copytree(REPO / "config", directory / "config")
        t0 = time.monotonic()
        if where == "local":
            local(directory)
        else:
            profile(directory, partition)
            try:
                snakemake(directory)
            finally:
                cancel_jobs(directory)
        runs[where] = directory
        runs[f"{where}_s"] = time.monotonic() - t0
    print(f"default workflow: local {runs['local_s']:.0f} s, through SLURM {runs['slurm_s']:.0f} s")
    return runs


def test_default_workflow_through_the_profile_equals_a_local_run(default_runs):
    local_dir, slurm_dir = default_runs["local"], default_runs["slurm"]
    for name in ("overview.csv", "report.html", "simulated/comparison.csv"):
        assert (slurm_dir / "results" / name).stat().st_size > 0, name
    for model in ("janus", "lcdm"):
        a, b = summary(local_dir, f"results/simulated/{model}"), summary(slurm_dir, f"results/simulated/{model}")
        assert a["fingerprint"] == b["fingerprint"]
        assert a["emcee"]["converged"] and b["emcee"]["converged"]
        for name, st in a["parameters"].items():
            # Monte Carlo error of a mean: sd over the square root of the effective sample size.
            ess = min(s["emcee"]["n_walkers"] * s["emcee"]["n_steps"] / 2 / s["emcee"]["tau_max"] for s in (a, b))
            assert abs(st["mean"] - b["parameters"][name]["mean"]) < 5 * st["sd"] * math.sqrt(2 / ess), name
            assert b["parameters"][name]["sd"] == pytest.approx(st["sd"], rel=0.1)
        da, db = a["dynesty"], b["dynesty"]
        assert abs(da["logz"] - db["logz"]) < 3 * math.hypot(da["logz_err"], db["logz_err"])
        assert b["chi2_min"] == pytest.approx(a["chi2_min"], abs=0.5)


def test_only_the_samplers_and_their_preflight_ran_on_the_cluster(default_runs):
    jobs = slurm_jobs(default_runs["slurm"])
    # A job past its time limit (the runtime estimate is measured on a machine
    # whose load may rise after) is retried: count each rule and run once, by
    # its last attempt.
    last = {j["Comment"]: j for j in jobs}
    assert sorted(j["rule"] for j in last.values()) == ["dynesty"] * 2 + ["emcee"] * 2 + ["preflight"] * 2
    assert all(j["JobState"] == "COMPLETED" for j in last.values()), [(j["rule"], j["JobState"]) for j in jobs]
    # The rest ran where Snakemake ran.
    for rule in (
        "simulate_data",
        "inspect_data",
        "convergence",
        "corner",
        "summary",
        "export",  # export_table logs there too
        "hubble",
        "provenance",
        "compare",
        "overview",
    ):
        assert list((default_runs["slurm"] / "results/logs").glob(f"{rule}*")), rule
        assert not (default_runs["slurm"] / "results/logs/slurm" / f"rule_{rule}").exists(), rule
    assert not (default_runs["slurm"] / "results/logs/slurm/rule_export_table").exists()


def test_slurm_was_asked_for_the_estimated_memory_time_and_threads(default_runs, partition):
    """mem_mb from the memory estimator, runtime from the pre-flight estimate, CPUs = threads."""
    directory = default_runs["slurm"]
    attempts = {}
    for job in slurm_jobs(directory):
        # A sampler's retry (the profile's retries: 1) asks for the attempt number times as much.
        attempt = attempts[job["Comment"]] = attempts.get(job["Comment"], 0) + 1
        model = job["Comment"].rsplit("_", 1)[1]
        record = json.loads((directory / "results/simulated" / model / "resources.json").read_text())
        if job["rule"] == "preflight":
            assert mem_mb(job) == max(record[s]["mem_mb"] for s in ("emcee", "dynesty"))
            continue
        estimate = record[job["rule"]]
        assert mem_mb(job) == math.ceil(attempt * estimate["mem_mb"])
        assert minutes(job["TimeLimit"]) == max(1, math.ceil(attempt * estimate["runtime_minutes"]))
        assert int(job["NumCPUs"]) == 1 and job["Partition"] == partition


def test_dry_run_with_the_profile_shows_partition_memory_time_and_cpus(default_runs, partition):
    directory = default_runs["slurm"]
    proc = snakemake(directory, "-n", "--forcerun", "emcee", "dynesty")
    blocks = [b for b in proc.stdout.split("\nrule ")[1:] if b.startswith(("emcee:", "dynesty:"))]
    assert len(blocks) == 4
    for block in blocks:
        rule = block.split(":")[0]
        model = re.search(r"wildcards: dataset=simulated, model=(\w+)", block).group(1)
        record = json.loads((directory / "results/simulated" / model / "resources.json").read_text())[rule]
        resources = dict(re.findall(r"(\w+)=([^,\s]*)", re.search(r"resources: (.*)", block).group(1)))
        assert resources["slurm_partition"] == partition
        assert int(resources["mem_mb"]) == record["mem_mb"]
        assert int(resources["runtime"]) == max(1, math.ceil(record["runtime_minutes"]))
        assert int(resources["cpus_per_task"]) == 1


# --- (2) a time limit, and (3) a killed Snakemake: one long emcee run --------


@pytest.fixture(scope="module")
def long_run(tmp_path_factory) -> dict:
    """LONG_RUN with the steps that take LONG_RUN_S here, timed as the pre-flight job times them."""
    directory = tmp_path_factory.mktemp("long_timing")
    spec = LONG_RUN["datasets"]["sim"]
    paths = {"path": str(directory / "hubble.csv"), "cov": str(directory / "hubble.cov")}
    write_simulated(paths["path"], paths["cov"], directory / "hubble.truth.json", n_sn=spec["n_sn"], seed=spec["seed"])
    posterior = Posterior(get_model("janus"), [load_dataset("sim", {"kind": "sn", "format": "simulated", **paths})])
    step_s = time_steps(posterior, EmceeSettings(n_walkers=32, max_steps=1), min_s=3.0)
    max_steps = int(max(50_000, round(LONG_RUN_S / step_s, -3)))
    print(f"long run: {max_steps} steps at {step_s * 1e3:.2f} ms a step")
    return {**LONG_RUN, "emcee": {**LONG_RUN["emcee"], "max_steps": max_steps}}


@pytest.fixture(scope="module")
def long_reference(tmp_path_factory, public_data, long_run):
    """The long emcee run, uninterrupted, locally."""
    directory = tmp_path_factory.mktemp("long_local")
    config = write_config(directory, public_data, **long_run)
    local(directory, configfile=config)
    return chain_arrays(directory / EMCEE_RUN / "emcee/chain.h5")


@pytest.fixture(scope="module")
def timed_out(tmp_path_factory, public_data, partition, long_run, long_reference):
    """The long run through the profile with a 1-minute limit on emcee's first attempt (20 on the retry)."""
    directory = tmp_path_factory.mktemp("long_timeout")
    config = write_config(directory, public_data, **long_run)
    profile(directory, partition, **{"set-resources": {"emcee": {"runtime": "1 if attempt == 1 else 20"}}})
    try:
        proc = snakemake(directory, configfile=config)
    finally:
        cancel_jobs(directory)
    return directory, proc, long_run["emcee"]["max_steps"]


def test_time_limit_kills_with_sigterm_then_the_retry_resumes_bit_for_bit(timed_out, long_reference):
    directory, proc, max_steps = timed_out
    emcee_jobs = [j for j in slurm_jobs(directory) if j["rule"] == "emcee"]
    assert [(j["JobState"], minutes(j["TimeLimit"])) for j in emcee_jobs] == [("TIMEOUT", 1), ("COMPLETED", 20)]
    assert f"SLURM-job '{emcee_jobs[0]['JobId']}' failed, SLURM status is: 'TIMEOUT'" in proc.stderr
    # Snakemake starts a retry's job log afresh; the first attempt's lines are in SLURM's log of it.
    first = (directory / "results/logs/slurm/rule_emcee/sim_janus" / f"{emcee_jobs[0]['JobId']}.log").read_text()
    stopped = re.search(r"wrote a checkpoint at iteration (\d+) after SIGTERM; stopping", first)
    assert "received SIGTERM: writing a checkpoint before stopping" in first and stopped, first[-3000:]
    assert f"resuming from checkpoint at iteration {stopped.group(1)}" in job_log(directory, "emcee")
    resumes = summary(directory, EMCEE_RUN)["emcee"]["resumes"]
    assert resumes == [int(stopped.group(1))] and 0 < resumes[0] < max_steps
    assert_same_chain(chain_arrays(directory / EMCEE_RUN / "emcee/chain.h5"), long_reference)


def test_a_retry_asks_for_memory_times_the_attempt(timed_out):
    directory, _, _ = timed_out
    record = json.loads((directory / EMCEE_RUN / "resources.json").read_text())["emcee"]
    first, retry = [j for j in slurm_jobs(directory) if j["rule"] == "emcee"]
    assert (mem_mb(first), mem_mb(retry)) == (record["mem_mb"], 2 * record["mem_mb"])


@pytest.fixture(scope="module")
def killed_snakemake(tmp_path_factory, public_data, partition, long_run, long_reference):
    """kill -9 of the submitting Snakemake while its emcee job samples; then --unlock and the same command again.

    Both emcee jobs get 20 minutes. With the estimated time (about 3 here, the
    run's 2.7 rounded up) a slower machine stopped the orphan at its limit,
    and the new job, whose waiting counted against its own, then timed out
    and was retried: designed behaviour (the time-limit test covers it), but
    not what this test is about, and a verdict the machine's load decided.
    """
    directory = tmp_path_factory.mktemp("long_kill9")
    config = write_config(directory, public_data, **long_run)
    profile(directory, partition, **{"set-resources": {"emcee": {"runtime": 20}}})
    first = subprocess.Popen(
        command(directory, configfile=config),
        stdout=subprocess.DEVNULL,
        stderr=open(directory / "first.err", "w"),
        env=env(),
        cwd=directory,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 900
        segments = directory / "results/checkpoints/sim/janus/emcee/segments"
        while not list(segments.glob("seg_*.npz")):
            assert first.poll() is None and time.monotonic() < deadline, "emcee never started on the cluster"
            time.sleep(1)
        os.kill(first.pid, signal.SIGKILL)  # Snakemake alone: its SLURM job keeps running
        first.wait()
        orphan = next(j for j in slurm_jobs(directory) if j["rule"] == "emcee")
        assert orphan["JobState"] == "RUNNING"
        snakemake(directory, "--unlock", configfile=config)
        snakemake(directory, configfile=config)
    finally:
        cancel_jobs(directory)
    return directory, orphan, long_run["emcee"]["max_steps"]


def test_after_kill_9_the_new_job_waits_for_the_orphan_and_nothing_is_lost(killed_snakemake, long_reference):
    directory, orphan, max_steps = killed_snakemake
    jobs = [j for j in slurm_jobs(directory) if j["rule"] == "emcee"]
    assert [j["JobId"] for j in jobs][0] == orphan["JobId"] and len(jobs) == 2
    old, new = jobs
    assert (old["JobState"], new["JobState"]) == ("COMPLETED", "COMPLETED")
    # The new job started while the orphan still ran, and waited for it.
    assert new["StartTime"] < old["EndTime"]
    log = job_log(directory, "emcee")
    assert re.search(
        rf"waiting for the sampler holding '.*emcee\.lock' \(pid \d+\) on host \S+, SLURM job "
        rf"{old['JobId']} to finish",
        log,
    ), log[-3000:]
    # It resumed where the orphan's checkpoint ended, at max_steps, and the
    # chain is the uninterrupted one.
    assert summary(directory, EMCEE_RUN)["emcee"]["resumes"] == [max_steps]
    checkpoint = directory / "results/checkpoints/sim/janus/emcee"
    bounds = [(int(p.name[4:14]), int(p.name[15:25])) for p in sorted((checkpoint / "segments").glob("seg_*.npz"))]
    assert [s for s, _ in bounds] == [0] + [e for _, e in bounds[:-1]] and bounds[-1][1] == max_steps
    assert not (checkpoint / "segments/quarantine").exists()
    assert_same_chain(chain_arrays(directory / EMCEE_RUN / "emcee/chain.h5"), long_reference)
