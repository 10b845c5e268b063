"""The heavy likelihood with 1 and 2 threads: JLA 740 light curves with synthetic systematic matrices.

JANUS (q0, α, β) on the real ``jla_lcparams.txt`` with the six blocks of a
random 2220 × 2220 C_η (``bench_lightcurve.synthetic_covmats``), so that
every (α, β) needs its own 740 × 740 Cholesky factor. ``Posterior.__call__``
on a batch of 16 vectors (emcee's batch at 32 walkers) is timed with
``likelihood.parallel.use_threads(1)`` and ``(2)`` in alternating blocks of
the same process (common.alternate), after checking the two give the same
values to the last bit. The load average (``uptime``) is recorded before
and after: on a shared 2-core machine the second core is only as free as
the other users leave it.

Then the other likelihoods, as the pre-flight job would time them
(``resources.threads.measure_threads``, 1 and 2 threads) at batches 16 to
256: JLA binned (31) and Pantheon+ (1590), both the reduced form, and JLA
740 without systematic matrices. Their efficiencies are the evidence for
which formats have ``heavy_rows`` (the pre-flight job times threads only
for those).
"""

from __future__ import annotations

import os
from dataclasses import replace

import numpy as np
from bench_lightcurve import _dataset, synthetic_covmats, thetas
from common import alternate, load

TARGET = 1.6
BATCH = 16
SURVEY_BATCHES = (16, 64, 256)


def run(quick: bool, log=print) -> dict:
    from janusfit.likelihood import Posterior, parallel
    from janusfit.models import get_model

    reps, block = (3, 0.5) if quick else (7, 2.0)
    base = _dataset()
    data = replace(base, light_curves=replace(base.light_curves, covmats=synthetic_covmats(base.n)))
    post = Posterior(get_model("janus"), [data])
    th = thetas(BATCH)
    values = {}
    for n in (1, 2):
        parallel.use_threads(n)
        values[n] = post(th)
    identical = bool(np.array_equal(values[1], values[2]))

    def with_threads(n):
        def call():
            parallel.use_threads(n)
            post(th)

        return call

    load_before = os.getloadavg()
    t = alternate({"1": with_threads(1), "2": with_threads(2)}, reps=reps, block_s=block)
    load_after = os.getloadavg()
    parallel.use_threads(1)
    rate = {n: BATCH / s for n, s in t.items()}
    speedup = rate["2"] / rate["1"]
    out = {
        "batch": BATCH,
        "evals_per_s": rate,
        "speedup": speedup,
        "identical": identical,
        "target": TARGET,
        "status": "ok" if speedup >= TARGET else f"MISSED <{TARGET}x",
        "load_average_before": load_before,
        "load_average_after": load_after,
    }
    log(
        f"JLA 740 with C_eta, batch {BATCH}: 1 thread {rate['1']:,.1f}/s, 2 threads {rate['2']:,.1f}/s, "
        f"x{speedup:.2f} (identical: {identical}); load {load_before[0]:.2f} -> {load_after[0]:.2f}"
    )
    out["survey"] = survey(log)
    return out


def survey(log=print) -> list[dict]:
    """Efficiency at 2 threads of the likelihoods without systematic matrices, as the pre-flight job measures it."""
    from janusfit.likelihood import Posterior
    from janusfit.models import get_model
    from janusfit.resources.threads import measure_threads

    rows = []
    for name, data in (
        ("JLA binned (31)", load("jla_binned")),
        ("Pantheon+ (1590)", load("pantheon+")),
        ("JLA 740 light curves, no C_eta", _dataset()),
    ):
        for model in ("lcdm", "janus"):
            post = Posterior(get_model(model), [data])
            for batch in SURVEY_BATCHES:
                record = measure_threads(post, batch_size=batch, max_threads=2)
                row = {
                    "data": name,
                    "model": model,
                    "batch": batch,
                    "call_us": record["seconds"]["1"] * batch * 1e6,
                    "efficiency_2": record["likelihood_efficiency"].get("2"),
                }
                rows.append(row)
                log(
                    f"  {name} {model} batch {batch}: {row['call_us']:.1f} µs per call, efficiency {row['efficiency_2']}"
                )
    return rows
