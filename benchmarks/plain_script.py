"""The plain script of the end-to-end benchmark, run in an interpreter of its own.

What a user without janusfit would write: ln L of one parameter vector with
astropy (ΛCDM: a ``FlatLambdaCDM`` built per call, then ``distmod``) or the
Mattig form in numpy (JANUS), and ``numpy.linalg.solve`` on the covariance;
stock emcee (32 walkers, its default stretch move, not vectorised,
``HDFBackend`` writing every step) stopped by janusfit's rule (N > 50 τ and τ
moved < 1 %, τ from ``get_autocorr_time(tol=0)`` every 500 steps); dynesty's
``NestedSampler`` with its defaults (500 live points, multi-ellipsoid bound,
automatic sampling) run to dlogz 0.1.

It imports neither janusfit nor the other benchmark modules, so any
interpreter with numpy, scipy, astropy, emcee and dynesty runs it:
bench_end_to_end runs it with its own and with the astropy 6.1 environment of
benchmarks/README.md when that exists.

    python plain_script.py JOB.npz OUT.json

JOB.npz holds the data (z, zhel, values, cov), the model, the prior bounds,
the initial walkers, the sampler, a wall-clock cap and a working directory.

Building an astropy ≥ 7.1 ``FlatLambdaCDM`` takes ~14 ms, so a run may hit the
cap. It is then *projected*: rerun to its stopping rule with an exact closed
form of the same ln L (ΛCDM: hyp2f1, which is astropy's distmod at Tcmb0 = 0
to ~1e-10 mag), which gives the number of calls and the samplers' own time;
the projection is that run's wall time with each call repriced from the
closed form's measured cost to the plain ln L's.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import time
from pathlib import Path

import numpy as np

N_OVER_TAU, TAU_REL, CHECK_EVERY, MAX_STEPS = 50.0, 0.01, 500, 100_000
FLOOR = -1e8  # dynesty needs a finite ln L outside JANUS's domain


class PlainLikelihood:
    """The normalised ln L of one parameter vector, counting its calls; ``mu`` gives the model's μ."""

    def __init__(self, job: dict, mu):
        self.z, self.values, self.cov, self.mu, self.model = job["z"], job["values"], job["cov"], mu, job["model"]
        self.calls = 0
        self.hel = 5 * np.log10((1 + job["zhel"]) / (1 + self.z))  # distmod puts z in both factors
        ones = np.ones(self.z.size)
        self.e = ones @ np.linalg.solve(self.cov, ones)
        self.const = np.log(self.e / (2 * np.pi)) + np.linalg.slogdet(2 * np.pi * self.cov)[1]

    def __call__(self, theta) -> float:
        self.calls += 1
        p = float(theta[0])
        if self.model == "janus" and not 1 + 2 * p * self.z.max() > 0:
            return -np.inf
        r = self.values - self.mu(p) - self.hel
        cr = np.linalg.solve(self.cov, r)
        b = cr.sum()
        return -0.5 * (r @ cr - b * b / self.e + self.const)


def astropy_mu(z):
    from astropy.cosmology import FlatLambdaCDM

    return lambda om: FlatLambdaCDM(H0=70.0, Om0=om, Tcmb0=0).distmod(z).value


def closed_mu(z):
    """ΛCDM by hyp2f1, exact; for projections only."""
    from scipy.special import hyp2f1

    zp1 = 1 + z

    def mu(om):
        s = om / (1 - om)
        d = (zp1 * hyp2f1(1 / 3, 0.5, 4 / 3, -s * zp1**3) - hyp2f1(1 / 3, 0.5, 4 / 3, -s)) / np.sqrt(1 - om)
        return 5 * np.log10(zp1 * d * 299792.458 / 70.0) + 25

    return mu


def mattig_mu(z):
    def mu(q):
        dl = (q * z + (1 - q) * (1 - np.sqrt(1 + 2 * q * z))) / q**2
        return 5 * np.log10(dl)

    return mu


def run_emcee(loglike, job: dict, chain_path: Path, deadline: float) -> dict:
    import emcee

    lo, hi = job["bounds"][:, 0], job["bounds"][:, 1]

    def log_post(theta):
        return loglike(theta) if np.all((theta >= lo) & (theta <= hi)) else -np.inf

    p0 = job["p0"]
    backend = emcee.backends.HDFBackend(str(chain_path))
    backend.reset(*p0.shape)
    sampler = emcee.EnsembleSampler(*p0.shape, log_post, backend=backend)
    sampler.random_state = np.random.RandomState(42).get_state()
    old_tau, converged, capped = np.inf, False, False
    for _ in sampler.sample(p0, iterations=MAX_STEPS, progress=False):
        if time.perf_counter() > deadline:
            capped = True
            break
        if sampler.iteration % CHECK_EVERY:
            continue
        tau = sampler.get_autocorr_time(tol=0)
        converged = bool(np.all(N_OVER_TAU * tau < sampler.iteration) and np.all(np.abs(old_tau - tau) / tau < TAU_REL))
        if converged:
            break
        old_tau = tau
    return {"steps": int(sampler.iteration), "converged": converged, "capped": capped, "chain": str(chain_path)}


def run_dynesty(loglike, job: dict, deadline: float) -> dict:
    import dynesty

    lo, hi = job["bounds"][:, 0], job["bounds"][:, 1]

    def capped_loglike(theta):
        if time.perf_counter() > deadline:
            raise TimeoutError
        return max(loglike(theta), FLOOR)

    try:
        # dynesty prints a traceback of the cap's TimeoutError before re-raising it.
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            sampler = dynesty.NestedSampler(
                capped_loglike, lambda u: lo + u * (hi - lo), len(lo), rstate=np.random.default_rng(42)
            )
            sampler.run_nested(dlogz=0.1, print_progress=False)
    except TimeoutError:
        return {"capped": True}
    return {"capped": False, "logz": float(sampler.results.logz[-1]), "logz_err": float(sampler.results.logzerr[-1])}


def run(job: dict) -> dict:
    """One sampler on one dataset and model: wall time, calls, and what its run reached."""
    import astropy

    z, model, work = job["z"], job["model"], Path(job["workdir"])
    mu = astropy_mu(z) if model == "lcdm" else mattig_mu(z)
    emcee_run = job["sampler"] == "emcee"

    def sample(loglike, deadline, name):
        if emcee_run:
            return run_emcee(loglike, job, work / f"{name}.h5", deadline)
        return run_dynesty(loglike, job, deadline)

    plain = PlainLikelihood(job, mu)
    t0 = time.perf_counter()
    out = sample(plain, t0 + job["cap_s"], "plain")
    out.update(
        wall_s=time.perf_counter() - t0,
        calls=plain.calls,
        projected=False,
        astropy=astropy.__version__,
        numpy=np.__version__,
    )
    if out["capped"]:
        fast = PlainLikelihood(job, closed_mu(z) if model == "lcdm" else mu)
        t0 = time.perf_counter()
        stats = sample(fast, np.inf, "projection")
        wall = time.perf_counter() - t0
        per_plain, per_fast = (_per_call(PlainLikelihood(job, m), job["p0"]) for m in (mu, fast.mu))
        out.update(
            stats,
            capped=True,
            projected=True,
            capped_after_s=out["wall_s"],
            calls=fast.calls,
            wall_s=wall + fast.calls * (per_plain - per_fast),
            plain_s_per_call=per_plain,
            closed_form_s_per_call=per_fast,
        )
    return out


def _per_call(like: PlainLikelihood, rows: np.ndarray, reps: int = 5) -> float:
    """Median seconds per call over ``reps`` passes through ``rows``."""
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for row in rows:
            like(row)
        times.append((time.perf_counter() - t0) / len(rows))
    return float(np.median(times))


if __name__ == "__main__":
    with np.load(sys.argv[1]) as npz:
        job = {k: (npz[k].item() if npz[k].ndim == 0 else npz[k]) for k in npz.files}
    Path(sys.argv[2]).write_text(json.dumps(run(job)) + "\n")
