"""Resident memory of a job over time, so an estimate can be checked against reality.

A daemon thread samples the RSS of this process and all its children every
``interval_s``. The peak of the samples is kept
exactly; the series kept for the plot is bounded: past ``max_points`` samples
every second one is dropped and half as many are kept from then on, so a job
of days costs no more than one of minutes. A spike shorter than the interval
can fall between samples, so the JSON also records the kernel's high-water
mark of this process (children excluded). The record is written atomically.
"""

from __future__ import annotations

import resource
import sys
import threading
import time

import psutil

from ..atomic import atomic_write_json
from .memory import MB, machine_memory_mb
from .runtime import process_age_s


def tree_rss_mb(process: psutil.Process) -> float:
    """RSS of ``process`` plus its living descendants, in MB."""
    total = process.memory_info().rss
    for child in process.children(recursive=True):
        try:
            total += child.memory_info().rss
        except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
            pass  # a worker that exited between listing and reading
    return total / MB


def own_maxrss_mb() -> float:
    """The kernel's high-water mark of this process's RSS since it started, in MB.

    On Linux this is VmHWM: ``ru_maxrss`` carries the parent's high-water mark
    over a fork and exec, so a job started by a large Snakemake process would
    report Snakemake's peak as its own.
    """
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024 / MB
    except OSError:
        pass
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss * (1 if sys.platform == "darwin" else 1024) / MB  # bytes on macOS, KiB on Linux


class MemoryMonitor:
    """Context manager sampling this process tree's RSS in the background."""

    def __init__(self, interval_s: float = 1.0, max_points: int = 10000):
        self.interval_s = interval_s
        self.max_points = max_points
        self.peak_mb = 0.0
        self.series: list[tuple[float, float]] = []
        self._stride = 1
        self._count = 0
        self._process = psutil.Process()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = 0.0
        self.duration_s = 0.0
        self.job_wall_s = 0.0

    def __enter__(self):
        self._t0 = time.monotonic()
        self._sample()
        self._thread = threading.Thread(target=self._run, name="janusfit-memory-monitor", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._sample()
        self.duration_s = time.monotonic() - self._t0
        self.job_wall_s = process_age_s()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._sample()

    def _sample(self) -> None:
        rss = tree_rss_mb(self._process)
        self.peak_mb = max(self.peak_mb, rss)
        if self._count % self._stride == 0:
            self.series.append((time.monotonic() - self._t0, rss))
            if len(self.series) > self.max_points:
                self.series = self.series[::2]
                self._stride *= 2
        self._count += 1

    def write(
        self,
        json_path,
        estimate_mb: float,
        machine_mb: float | None = None,
        earlier_sessions_s: float = 0.0,
    ) -> dict:
        """The record: peaks, series, times, the estimate and the machine's memory, as JSON; returned too.

        ``earlier_sessions_s`` is what earlier jobs of the same checkpoint sampled, recorded beside this job's time.
        The figure of it is drawn by the run's summary job (:func:`janusfit.plots.memory_plot`), so that
        matplotlib's import and rendering are not part of the sampling job's peak.
        """
        machine_mb = machine_memory_mb() if machine_mb is None else machine_mb
        record = {
            "peak_rss_mb": round(self.peak_mb, 1),
            "process_maxrss_mb": round(own_maxrss_mb(), 1),
            "duration_s": round(self.duration_s, 2),
            # The whole job so far, its start included: what a runtime estimate predicts.
            "job_wall_s": round(self.job_wall_s, 2),
            "earlier_sessions_s": round(earlier_sessions_s, 2),
            "estimate_mb": estimate_mb,
            "machine_mb": machine_mb,
            "interval_s": self.interval_s * self._stride,
            "series": [[round(t, 2), round(mb, 1)] for t, mb in list(self.series)],
        }
        atomic_write_json(json_path, record)
        return record


def job_peak_mb(record: dict) -> float:
    """A job's peak from its record: the sampled peak, or the kernel's high-water mark where a spike fell between samples."""
    return max(record["peak_rss_mb"], record["process_maxrss_mb"])
