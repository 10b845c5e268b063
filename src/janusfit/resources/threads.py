"""The measured threads policy: a sampling job asks for the threads its likelihood turns into speed.

The pre-flight job (given P threads, the performance cores) times the
run's likelihood at each sampler's batch, emcee's half ensemble and
dynesty's single point, with 1, 2, … P threads (numba's and BLAS, through
:func:`janusfit.likelihood.parallel.use_threads`), and records in
``resources.json`` the parallel efficiency of each count n,

    efficiency(n) = t(1) / (n · t(n))        (t: seconds per evaluation),

and the count the sampling job will ask for: the largest n whose
efficiency is at least :data:`EFFICIENCY_THRESHOLD`, else 1. A job that
turns 2 threads into 1.4× speed or more keeps them; below that the second
core does more work running a second job beside it (Snakemake's
``--cores`` then fits two one-thread samplers where it fitted one
two-thread sampler).

The efficiency is the job's, not the likelihood's alone: a sampler spends
its own time o per evaluation that threads do not shorten (emcee's moves,
dynesty's proposals and bounds, serial Python), so with t(n) the
likelihood's seconds per evaluation on n threads

    efficiency(n) = (o + t(1)) / (n · (o + t(n))).

A likelihood of a few µs per evaluation beside emcee's ~5 µs of its own
may scale at 0.7 and still leave the job at 0.55: the second core then does
more as a second job. Where the likelihood costs milliseconds (JLA's light
curves with systematic matrices) o vanishes beside it and the two agree.
``resources.json`` keeps both (``likelihood_efficiency`` and ``efficiency``)
and o (``own_s``).
"""

from __future__ import annotations

import json

import numpy as np

from .runtime import time_likelihood

EFFICIENCY_THRESHOLD = 0.7
# Alternated rounds of the counts (1 2 …, then 2 … 1): a slow spell of a
# shared machine then hits every count alike; the median is kept.
ROUNDS = 3
THREADS_KEY = "threads"


def choose_threads(efficiency: dict[int, float], threshold: float = EFFICIENCY_THRESHOLD) -> int:
    """The largest thread count whose efficiency is at least ``threshold``; 1 when none above 1 is."""
    return max([n for n, e in efficiency.items() if n > 1 and e >= threshold], default=1)


def measure_threads(posterior, *, batch_size: int, max_threads: int, own_s: float = 0.0, timer=time_likelihood) -> dict:
    """Seconds per evaluation at ``batch_size`` with 1 … ``max_threads`` threads, the job's efficiencies and the choice.

    ``own_s`` is the sampler's own seconds per evaluation, which threads do
    not shorten. ``timer(posterior, batch_size=...)`` times one count
    (seconds per evaluation); the kernels are left at one thread afterwards.
    Counts past numba's pool (``NUMBA_NUM_THREADS``) cannot be had, and are
    not timed.
    """
    from ..likelihood import parallel

    counts = list(range(1, parallel.use_threads(max(1, int(max_threads))) + 1))
    samples = {n: [] for n in counts}
    try:
        for r in range(ROUNDS):
            for n in counts[r % len(counts) :] + counts[: r % len(counts)]:
                parallel.use_threads(n)
                samples[n].append(timer(posterior, batch_size=batch_size))
    finally:
        parallel.use_threads(1)
    seconds = {n: float(np.median(v)) for n, v in samples.items()}
    likelihood = {n: seconds[1] / (n * seconds[n]) for n in counts}
    job = {n: (own_s + seconds[1]) / (n * (own_s + seconds[n])) for n in counts}
    return {
        "batch": int(batch_size),
        "seconds": {str(n): s for n, s in seconds.items()},
        "own_s": float(own_s),
        "likelihood_efficiency": {str(n): round(e, 3) for n, e in likelihood.items()},
        "efficiency": {str(n): round(e, 3) for n, e in job.items()},
        "threshold": EFFICIENCY_THRESHOLD,
        "threads": choose_threads(job),
    }


def measured_threads(resources_json, sampler: str, fallback: int) -> int:
    """The threads recorded for ``sampler`` in ``resources.json``; ``fallback`` before the pre-flight job has run.

    Called while Snakemake plans jobs, so it never raises: a missing or
    unreadable record gives the fallback (Snakemake evaluates it again when
    the job's inputs exist, just before it runs it).
    """
    try:
        with open(resources_json) as fh:
            value = json.load(fh)[sampler][THREADS_KEY]["threads"]
    except (OSError, ValueError, TypeError, KeyError):
        return fallback
    return value if isinstance(value, int) and value >= 1 else fallback


def describe(record: dict) -> str:
    """One line for the log and the report: seconds and efficiencies per count, and the choice."""
    own = f"; the sampler's own {record['own_s'] * 1e6:.1f} µs per evaluation" if "own_s" in record else ""
    parts = [
        f"{n} thread{'s' if n != '1' else ''} {record['seconds'][n] * 1e6:.1f} µs"
        + (
            f" (efficiency {record['efficiency'][n]:.2f}, likelihood alone "
            f"{record.get('likelihood_efficiency', record['efficiency'])[n]:.2f})"
            if n != "1"
            else ""
        )
        for n in record["seconds"]
    ]
    if len(parts) == 1:
        return (
            f"batch {record['batch']}: {parts[0]}{own}; asks for 1 (the pre-flight job had one thread: this "
            "likelihood's rows are too light to share out, or P is 1)"
        )
    return (
        f"batch {record['batch']}: "
        + ", ".join(parts)
        + own
        + f"; asks for {record['threads']} (largest count with efficiency >= {record['threshold']})"
    )
