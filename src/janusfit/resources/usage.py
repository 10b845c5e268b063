"""What a run's sampling jobs used against what was estimated, for ``summary.json``.

The runtime estimates come from the run's ``resources.json`` (written by
the preflight rule); the memory estimate each sampling job made for itself
and the measurements, from its ``memory.json`` (written by its
MemoryMonitor). The peak is the larger of the monitor's
sampled peak (this process and its children) and the kernel's high-water
mark of the job process, which catches a spike between two samples. The
measured runtime is the wall time of the sampling job's last attempt, from
the start of its process (as the estimate counts it) to the end of sampling,
plus what the earlier sessions of its checkpoint sampled (a job resumed after
an interruption ran only the last part).
"""

from __future__ import annotations

from ..result_files import read_result
from .monitor import job_peak_mb
from .runtime import RUNTIME_KEY


def run_resources(resources_json, memory_jsons: dict) -> dict:
    """``{mem_mb_estimate, peak_rss_mb, runtime_estimate_min, runtime_min}`` of the run, then the same per sampler.

    The run's memory is that of its largest job; its times are summed over
    the samplers. ``memory_jsons`` maps each sampler to its ``memory.json``.
    """
    recorded = read_result(resources_json)
    per_sampler = {}
    for sampler, path in memory_jsons.items():
        measured = read_result(path)
        per_sampler[sampler] = {
            # The job's own: the pre-flight's is not made again for a setting only the job reads (progress.figure).
            "mem_mb_estimate": measured["estimate_mb"],
            "peak_rss_mb": job_peak_mb(measured),
            "runtime_estimate_min": recorded[sampler][RUNTIME_KEY],
            # memory.json of janusfit 0.1.0 has the sampling time only.
            "runtime_min": round(
                (measured.get("job_wall_s", measured["duration_s"]) + measured.get("earlier_sessions_s", 0.0)) / 60.0,
                3,
            ),
        }
    jobs = per_sampler.values()
    return {
        "mem_mb_estimate": max(j["mem_mb_estimate"] for j in jobs),
        "peak_rss_mb": max(j["peak_rss_mb"] for j in jobs),
        "runtime_estimate_min": round(sum(j["runtime_estimate_min"] for j in jobs), 3),
        "runtime_min": round(sum(j["runtime_min"] for j in jobs), 3),
        **per_sampler,
    }
