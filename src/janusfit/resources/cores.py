"""How many performance and efficiency cores this machine has, and threads per rule.

On a hybrid CPU (Apple M-series, Intel Alder Lake and later, ARM big.LITTLE) a
sampling job given all cores runs at the pace of its slowest thread, so heavy
rules are sized by the performance cores. The counts come from, in order:

- macOS: ``sysctl hw.perflevel0.physicalcpu hw.perflevel1.physicalcpu``
  (perflevel0 is the performance cluster, perflevel1 the efficiency one);
- Linux with Intel hybrid PMUs: the CPU lists of ``/sys/devices/cpu_core`` and
  ``/sys/devices/cpu_atom``, with SMT siblings counted once;
- Linux with CPUs of more than one maximum frequency (``cpufreq``): the
  fastest group is performance, the rest efficiency;
- otherwise every physical core counts as a performance core.

The config key ``cores: {performance: N, efficiency: M}`` overrides detection,
for machines where it is wrong and for SLURM nodes shared with other jobs.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

from ..errors import ConfigError

SYSCTL_KEYS = ("hw.perflevel0.physicalcpu", "hw.perflevel1.physicalcpu")
RULE_CLASSES = ("heavy", "light")
# Efficiency cores a "balanced" heavy rule borrows: enough to absorb the
# workflow's own light jobs and I/O without slowing the sampler to E-core pace.
BALANCED_EXTRA = 2


@dataclass(frozen=True)
class HeavyPolicy:
    """A value of ``cores.heavy``: the most threads a sampling job may have, and whether it asks for what it measured.

    ``measured``: the pre-flight job times the likelihood with 1 … ``most``
    threads and each sampling job asks for the count that paid
    (:mod:`janusfit.resources.threads`); otherwise emcee asks for ``most``
    and dynesty for one.
    """

    most: Callable[[CoreCounts], int]
    measured: bool


HEAVY_POLICIES = {
    "measured": HeavyPolicy(lambda c: c.performance, measured=True),
    "performance": HeavyPolicy(lambda c: c.performance, measured=False),
    "balanced": HeavyPolicy(lambda c: min(c.performance + BALANCED_EXTRA, c.total), measured=False),
}
CHOICES = tuple(HEAVY_POLICIES)


@dataclass(frozen=True)
class CoreCounts:
    performance: int
    efficiency: int
    source: str

    @property
    def total(self) -> int:
        return self.performance + self.efficiency


def parse_cpu_list(text: str) -> list[int]:
    """CPU numbers of a sysfs list such as ``"0-7,16,18-19"``."""
    cpus = []
    for part in text.strip().split(","):
        if not part:
            continue
        lo, _, hi = part.partition("-")
        cpus.extend(range(int(lo), int(hi or lo) + 1))
    return cpus


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


def _run_sysctl() -> str:
    """Output of the real ``sysctl``; empty when it is missing or fails."""
    try:
        # /usr/sbin is not on the PATH of every job environment.
        command = shutil.which("sysctl") or "/usr/sbin/sysctl"
        done = subprocess.run([command, *SYSCTL_KEYS], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return ""
    # A missing key (an Intel Mac has no perflevel1) makes sysctl exit non-zero
    # but still print the keys it knows.
    return done.stdout


def parse_sysctl(text: str) -> dict[str, int]:
    """``key: value`` (or ``key = value``) lines of sysctl output, integers only."""
    values = {}
    for line in text.splitlines():
        for sep in (":", "="):
            key, found, value = line.partition(sep)
            if found:
                try:
                    values[key.strip()] = int(value.strip())
                except ValueError:
                    pass
                break
    return values


def _from_sysctl(text: str) -> CoreCounts | None:
    values = parse_sysctl(text)
    perf = values.get(SYSCTL_KEYS[0], 0)
    if perf < 1:
        return None
    return CoreCounts(perf, values.get(SYSCTL_KEYS[1], 0), "sysctl hw.perflevel0/1.physicalcpu")


def _physical_cores(cpus: list[int], cpu_dir: Path) -> list[frozenset[int]]:
    """One set of logical CPUs per physical core, from the SMT sibling lists.

    A CPU whose topology is not exposed counts as a core of its own.
    """
    cores = set()
    for cpu in cpus:
        topology = cpu_dir / f"cpu{cpu}" / "topology"
        siblings = _read(topology / "core_cpus_list") or _read(topology / "thread_siblings_list")
        cores.add(frozenset(parse_cpu_list(siblings)) if siblings else frozenset([cpu]))
    return sorted(cores, key=min)


def _from_intel_hybrid(root: Path) -> CoreCounts | None:
    core = _read(root / "devices" / "cpu_core" / "cpus")
    atom = _read(root / "devices" / "cpu_atom" / "cpus")
    if core is None or atom is None:
        return None
    cpu_dir = root / "devices" / "system" / "cpu"
    perf = len(_physical_cores(parse_cpu_list(core), cpu_dir))
    eff = len(_physical_cores(parse_cpu_list(atom), cpu_dir))
    return CoreCounts(perf, eff, "sysfs cpu_core/cpu_atom") if perf else None


def _from_cpufreq(root: Path) -> CoreCounts | None:
    cpu_dir = root / "devices" / "system" / "cpu"
    cpus = sorted(int(p.name[3:]) for p in cpu_dir.glob("cpu[0-9]*") if p.name[3:].isdigit())
    by_freq: dict[int, int] = {}
    for core in _physical_cores(cpus, cpu_dir):
        freq = _read(cpu_dir / f"cpu{min(core)}" / "cpufreq" / "cpuinfo_max_freq")
        if freq is None or not freq.strip().isdigit():
            return None
        by_freq[int(freq)] = by_freq.get(int(freq), 0) + 1
    if len(by_freq) < 2:
        return None
    top = max(by_freq)
    return CoreCounts(by_freq[top], sum(n for f, n in by_freq.items() if f != top), "sysfs cpufreq max frequency")


def _all_performance() -> CoreCounts:
    physical = psutil.cpu_count(logical=False)
    if physical:
        return CoreCounts(physical, 0, "psutil physical cores")
    return CoreCounts(os.cpu_count() or 1, 0, "os.cpu_count")


def detect_cores(
    sysctl: Callable[[], str] | str | None = None, sysfs_root="/sys", system: str | None = None
) -> CoreCounts:
    """Performance and efficiency core counts of this machine; never raises.

    ``sysctl`` is the macOS ``sysctl`` output, or a callable returning it
    (``None`` runs the real command); ``sysfs_root`` and ``system`` let tests
    describe another machine.
    """
    system = system or platform.system()
    if system == "Darwin":
        text = _run_sysctl() if sysctl is None else sysctl if isinstance(sysctl, str) else sysctl()
        found = _from_sysctl(text)
    elif system == "Linux":
        root = Path(sysfs_root)
        try:
            found = _from_intel_hybrid(root) or _from_cpufreq(root)
        except ValueError:  # a CPU list that does not parse: trust none of it
            found = None
    else:
        found = None
    return found or _all_performance()


def cores_from_config(config_cores: dict | None) -> CoreCounts | None:
    """The ``cores`` config override, validated; ``None`` when it is not set."""
    if config_cores is None:
        return None
    if not isinstance(config_cores, dict):
        raise ConfigError("cores", f"must be a mapping {{performance: N, efficiency: M}}, not {config_cores!r}")
    unknown = set(config_cores) - {"performance", "efficiency"}
    if unknown:
        raise ConfigError(f"cores.{sorted(unknown)[0]}", "unknown key; 'cores' takes 'performance' and 'efficiency'")
    counts = {}
    for key, minimum in (("performance", 1), ("efficiency", 0)):
        value = config_cores.get(key, 0 if key == "efficiency" else None)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ConfigError(f"cores.{key}", f"must be an integer >= {minimum}, not {value!r}")
        counts[key] = value
    return CoreCounts(counts["performance"], counts["efficiency"], "config cores")


def heavy_policy(choice: str) -> HeavyPolicy:
    """The policy the config key ``cores.heavy`` names."""
    if choice not in HEAVY_POLICIES:
        raise ConfigError("cores.heavy", f"must be one of {', '.join(CHOICES)}, not {choice!r}")
    return HEAVY_POLICIES[choice]


def threads_for(rule_class: str, counts: CoreCounts, choice: str) -> int:
    """The most threads of one job: P cores (``measured``, ``performance``) or P + 2 (``balanced``) for heavy rules, 1 for light ones.

    ``choice`` is the config key ``cores.heavy``.
    """
    if rule_class not in RULE_CLASSES:
        raise ValueError(f"rule class must be one of {RULE_CLASSES}, not {rule_class!r}")
    policy = heavy_policy(choice)
    return 1 if rule_class == "light" else policy.most(counts)
