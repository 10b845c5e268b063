import json
import os

import psutil
import pytest
import yaml
from release_configs import jla_light_curves
from schema_defaults import with_defaults
from snakemake_runner import run, write_config

from janusfit.config import rule_params
from janusfit.errors import ConfigError
from janusfit.resources.cores import CHOICES, CoreCounts, cores_from_config, detect_cores, parse_cpu_list, threads_for
from janusfit.resources.requests import core_counts, heavy_threads

# `sysctl hw.perflevel0.physicalcpu hw.perflevel1.physicalcpu` on an M4 iMac.
M4_SYSCTL = "hw.perflevel0.physicalcpu: 4\nhw.perflevel1.physicalcpu: 6\n"


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def fake_cpu(root, cpu, siblings=None, max_freq=None):
    d = root / "devices" / "system" / "cpu" / f"cpu{cpu}"
    d.mkdir(parents=True, exist_ok=True)
    if siblings is not None:
        write(d / "topology" / "core_cpus_list", siblings)
    if max_freq is not None:
        write(d / "cpufreq" / "cpuinfo_max_freq", f"{max_freq}\n")


def test_parse_cpu_list():
    assert parse_cpu_list("0-3,8,10-11\n") == [0, 1, 2, 3, 8, 10, 11]
    assert parse_cpu_list("5") == [5]


def test_macos_m4_from_recorded_sysctl():
    counts = detect_cores(sysctl=M4_SYSCTL, system="Darwin")
    assert (counts.performance, counts.efficiency) == (4, 6)
    assert "sysctl" in counts.source
    assert detect_cores(sysctl=lambda: M4_SYSCTL, system="Darwin") == counts


def test_macos_without_perflevels_falls_back_to_physical_cores():
    # An Intel Mac: sysctl knows neither key and prints nothing on stdout.
    counts = detect_cores(sysctl="", system="Darwin")
    assert counts.efficiency == 0
    assert counts.performance == (psutil.cpu_count(logical=False) or os.cpu_count())


def test_intel_hybrid_alder_lake(tmp_path):
    # i7-12700: 8 P cores with SMT (cpu 2k and 2k+1 are siblings), 4 E cores.
    write(tmp_path / "devices" / "cpu_core" / "cpus", "0-15\n")
    write(tmp_path / "devices" / "cpu_atom" / "cpus", "16-19\n")
    for cpu in range(16):
        pair = cpu - cpu % 2
        fake_cpu(tmp_path, cpu, siblings=f"{pair}-{pair + 1}\n")
    for cpu in range(16, 20):
        fake_cpu(tmp_path, cpu, siblings=f"{cpu}\n")
    counts = detect_cores(sysfs_root=tmp_path, system="Linux")
    assert counts == CoreCounts(8, 4, "sysfs cpu_core/cpu_atom")


def test_linux_grouped_by_max_frequency(tmp_path):
    # big.LITTLE: 4 cores at 2.8 GHz, 4 at 1.8 GHz, no SMT.
    for cpu in range(8):
        fake_cpu(tmp_path, cpu, siblings=f"{cpu}", max_freq=2_800_000 if cpu >= 4 else 1_800_000)
    counts = detect_cores(sysfs_root=tmp_path, system="Linux")
    assert (counts.performance, counts.efficiency) == (4, 4)
    assert "cpufreq" in counts.source


def test_plain_linux_is_all_performance(tmp_path):
    for cpu in range(4):
        fake_cpu(tmp_path, cpu, siblings=f"{cpu}", max_freq=3_000_000)
    counts = detect_cores(sysfs_root=tmp_path, system="Linux")
    assert counts.efficiency == 0
    assert counts.performance == (psutil.cpu_count(logical=False) or os.cpu_count())


def test_unparsable_sysfs_falls_back(tmp_path):
    write(tmp_path / "devices" / "cpu_core" / "cpus", "0-x\n")
    write(tmp_path / "devices" / "cpu_atom" / "cpus", "16-19\n")
    assert detect_cores(sysfs_root=tmp_path, system="Linux").source in ("psutil physical cores", "os.cpu_count")


def test_config_override_and_validation():
    assert cores_from_config(None) is None
    assert cores_from_config({"performance": 4, "efficiency": 6}) == CoreCounts(4, 6, "config cores")
    assert cores_from_config({"performance": 2}).efficiency == 0
    for bad in ({"performance": 0}, {"performance": "4"}, {"performance": 2.5}, {"performance": True}):
        with pytest.raises(ConfigError, match=r"cores\.performance"):
            cores_from_config(bad)
    with pytest.raises(ConfigError, match=r"cores\.efficiency"):
        cores_from_config({"performance": 4, "efficiency": -1})
    with pytest.raises(ConfigError, match=r"cores\.perf"):
        cores_from_config({"perf": 4})


def test_efficiency_cores_given_alone_keep_this_machines_performance_cores():
    # The schema lets cores.performance be left out; it was refused as "must be an integer >= 1, not None".
    here = detect_cores()
    counts = core_counts({"cores": {"efficiency": 2, "heavy": "balanced"}})
    assert (counts.performance, counts.efficiency) == (here.performance, 2)
    assert heavy_threads({"cores": {"heavy": "balanced"}}, counts) == here.performance + 2
    with pytest.raises(ConfigError, match=r"config key 'cores': the sampling jobs run on SLURM compute nodes"):
        core_counts({"cores": {"efficiency": 2}}, on_cluster=True)


def test_threads_for():
    m4 = CoreCounts(4, 6, "test")
    assert threads_for("heavy", m4, "performance") == 4
    assert threads_for("heavy", m4, "balanced") == 6
    assert threads_for("heavy", CoreCounts(4, 1, "test"), "balanced") == 5
    assert threads_for("heavy", CoreCounts(8, 0, "test"), "balanced") == 8
    assert threads_for("light", m4, "performance") == 1
    with pytest.raises(ConfigError, match=r"cores\.heavy"):
        threads_for("heavy", m4, "all")


# --- threads under the SLURM profile: never from this (login) node's cores ---


def emcee_threads_in_dry_run(directory, *args, rule="emcee") -> tuple[int, str]:
    """(``rule``'s threads in ``snakemake -n``, or its exit code; its output) with SLURM's resources set, as the profile sets them.

    A dry run prints its messages, errors included, on stdout.
    """
    # --cores above the threads asked for, as the profile's `cores`, so that they are not capped.
    proc = run(directory, "-n", "--cores", "64", "--default-resources", "slurm_partition=debug", *args, check=False)
    threads = [
        int(line.split()[-1])
        for block in proc.stdout.split("\nrule ")[1:]
        if block.startswith(f"{rule}:")
        for line in block.splitlines()
        if line.strip().startswith("threads:")
    ]
    return (threads[0] if threads else proc.returncode), proc.stdout + proc.stderr


def test_on_slurm_without_cores_or_set_threads_the_workflow_refuses_to_guess(tmp_path, public_data):
    write_config(tmp_path, public_data, models=["lcdm"])
    code, output = emcee_threads_in_dry_run(tmp_path)
    here = detect_cores()
    assert code != 0
    assert (
        f"config key 'cores': the sampling jobs run on SLURM compute nodes, and this machine's cores "
        f"({here.performance} performance, {here.efficiency} efficiency) say nothing about theirs; set "
        "'cores: {performance: P}' in the config"
    ) in output
    assert "or 'set-threads: {emcee: P}' in the profile" in output


@pytest.mark.parametrize("how", ["config", "set-threads"])
def test_on_slurm_threads_come_from_the_config_or_set_threads(tmp_path, public_data, how):
    # Not this machine's count, so that a fallback to detection would show.
    wanted = (psutil.cpu_count(logical=False) or 1) + 3
    if how == "config":
        # Light curves: under the measured policy their emcee jobs may have every P thread.
        datasets = light_curves(public_data)
        write_config(tmp_path, public_data, datasets=datasets, models=["lcdm"], cores={"performance": wanted})
        threads, output = emcee_threads_in_dry_run(tmp_path)
    else:
        write_config(tmp_path, public_data, models=["lcdm"])
        threads, output = emcee_threads_in_dry_run(tmp_path, "--set-threads", f"emcee={wanted}")
    assert threads == wanted, output[-3000:]


def test_on_slurm_the_preflight_job_times_up_to_the_profiles_set_threads(tmp_path, public_data):
    """Light curves, measured policy: the pre-flight job times 1 … P threads for the emcee jobs it
    measures for, P the profile's set-threads, not this (login) node's cores."""
    wanted = (psutil.cpu_count(logical=False) or 1) + 3
    write_config(tmp_path, public_data, datasets=light_curves(public_data), models=["lcdm"])
    threads, output = emcee_threads_in_dry_run(tmp_path, "--set-threads", f"emcee={wanted}", rule="preflight")
    assert threads == wanted, output[-3000:]


def threads_in_dry_run(directory) -> dict:
    """Each sampling and pre-flight rule's threads in ``snakemake -n`` (``--cores`` above them, so that they are not capped).

    Snakemake prints no ``threads:`` line for one thread.
    """
    rules = ("emcee", "dynesty", "preflight")
    proc = run(directory, "-n", "--cores", "64", check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    shown = {
        block.split(":")[0]: int(line.split()[-1])
        for block in proc.stdout.split("\nrule ")[1:]
        if block.startswith(tuple(f"{r}:" for r in rules))
        for line in block.splitlines()
        if line.strip().startswith("threads:")
    }
    return {rule: shown.get(rule, 1) for rule in rules}


def light_curves(public_data) -> dict:
    """JLA's 740 light curves from tests/data, as the dataset ``jla`` (the likelihood whose rows threads can share)."""
    return {"jla": jla_light_curves(public_data)}


@pytest.mark.parametrize(
    "heavy, expected",
    [
        ("measured", {"emcee": 3, "dynesty": 1, "preflight": 4}),
        ("performance", {"emcee": 4, "dynesty": 1, "preflight": 1}),
    ],
)
def test_sampling_rules_ask_for_the_threads_the_preflight_job_measured(tmp_path, public_data, heavy, expected):
    datasets = light_curves(public_data)
    write_config(tmp_path, public_data, datasets=datasets, models=["lcdm"], cores={"performance": 4, "heavy": heavy})
    record = tmp_path / "results" / "jla" / "lcdm" / "resources.json"
    record.parent.mkdir(parents=True)
    record.write_text('{"emcee": {"threads": {"threads": 3}}, "dynesty": {"threads": {"threads": 1}}}')
    assert threads_in_dry_run(tmp_path) == expected
    # Before the pre-flight job has measured, the measured policy shows the most it may choose.
    record.unlink()
    assert threads_in_dry_run(tmp_path)["emcee"] == 4


@pytest.mark.parametrize("heavy", ["measured", "performance"])
def test_a_preflight_job_with_nothing_to_time_holds_one_core(tmp_path, public_data, heavy):
    # JLA binned (the reduced form): a batch lasts microseconds, too short for
    # threads to pay, so the pre-flight job times one thread and holds one core,
    # and under the measured policy its samplers ask for one.
    write_config(tmp_path, public_data, models=["lcdm"], cores={"performance": 4, "heavy": heavy})
    emcee = 1 if heavy == "measured" else 4
    assert threads_in_dry_run(tmp_path) == {"emcee": emcee, "dynesty": 1, "preflight": 1}


def test_only_a_switch_to_or_from_the_measured_policy_reruns_the_preflight_job(repo):
    # Under the measured policy the pre-flight job times the likelihood's threads (rows of the report, the
    # samplers' threads); under a fixed one it times nothing, so between fixed policies its outputs are the same.
    config = yaml.safe_load((repo / "config" / "config.yaml").read_text())
    with_defaults(config)
    params = {h: rule_params({**config, "cores": {"heavy": h}}, "simulated", "lcdm") for h in CHOICES}
    assert params["performance"] == params["balanced"]
    # Under the default policy the params are those of runs made before the switch was one: they do not rerun.
    assert "threads_measured" not in json.loads(params["measured"]["preflight"])
    assert params["measured"]["preflight"] != params["performance"]["preflight"]
    assert {r: p for r, p in params["measured"].items() if r != "preflight"} == {
        r: p for r, p in params["performance"].items() if r != "preflight"
    }


def test_more_performance_cores_rerun_the_preflight_job_that_timed_fewer(tmp_path, public_data):
    """Light curves, measured policy: the pre-flight job times 1 … P threads, and the samplers ask for no more.

    Raising P (``cores.performance``, or the project moved to a machine with
    more cores) reran nothing: the samplers kept asking for what a timing up
    to the old P had found, however much more the new cores would give.
    """
    preflight = "results/jla/lcdm/preflight.json"

    def configure(performance):
        write_config(
            tmp_path,
            public_data,
            datasets=light_curves(public_data),
            models=["lcdm"],
            cores={"performance": performance, "efficiency": 0},
        )

    configure(1)
    run(tmp_path, preflight)
    assert "Nothing to be done" in run(tmp_path, "-n", preflight).stdout
    configure(2)
    planned = run(tmp_path, "-n", preflight).stdout
    assert "rule preflight:" in planned and "reason: Params have changed since last execution" in planned, planned
    # One thread is what every run of a light likelihood times: its params are those of runs made before.
    config = yaml.safe_load((tmp_path / "config.yaml").read_text())
    with_defaults(config)
    assert rule_params(config, "jla", "lcdm") == rule_params(config, "jla", "lcdm", timed_threads=1)
