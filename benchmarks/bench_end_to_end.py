"""End to end: wall time and likelihood calls to a converged posterior and to ln Z.

For each dataset (Union3, JLA binned) and model (flat ΛCDM, JANUS):

- janusfit: ``run_emcee`` (32 walkers, defaults: DE move, stop when N > 50 τ
  and τ moved < 1 %, checked every 500 steps) and ``run_dynesty`` (static,
  500 live points, dlogz 0.1), each inside a CheckpointSession;
- a plain script: the likelihood per call with astropy (ΛCDM: a
  ``FlatLambdaCDM`` built per call, ``distmod``, ``numpy.linalg.solve``) or the
  Mattig form in numpy (JANUS); stock emcee (32 walkers, its default stretch
  move, not vectorised, ``HDFBackend``) stopped by the same rule, computed with
  ``get_autocorr_time(tol=0)`` every 500 steps; dynesty with its defaults
  (``NestedSampler``: 500 live points, multi-ellipsoid bound, automatic
  sampling) run to dlogz 0.1.

Both sides draw their initial walkers the same way (prior draws with a finite
posterior) and use the same normalised likelihood, so their ln Z agree.

Building an astropy 8 ``FlatLambdaCDM`` takes ~30 ms, so the plain ΛCDM runs
get a wall-clock cap. A run that hits it is reported as *projected*: the same
plain sampler set-up is rerun to its stopping rule with janusfit's likelihood
(the same posterior to ~1e-7 in ln L), which gives the number of calls, and the
projection is that run's wall time plus calls × the plain likelihood's time
per call (measured on 20 calls).
"""

from __future__ import annotations

import contextlib
import io
import tempfile
import time
from pathlib import Path

import dynesty
import emcee
import numpy as np
from astropy.cosmology import FlatLambdaCDM

from common import load
from janusfit.likelihood import Posterior

N_WALKERS = 32
CHECK_EVERY = 500
N_OVER_TAU = 50.0
TAU_REL = 0.01
MAX_STEPS = 100_000
DYNESTY_FLOOR = -1e8  # ln L outside JANUS's domain: dynesty needs a finite value there


class CountingPosterior(Posterior):
    """A Posterior that counts the parameter vectors it evaluates (picklable, as dynesty's checkpoint needs)."""

    calls = 0

    def __call__(self, theta):
        out = super().__call__(theta)
        self.calls += len(out)
        return out

    def loglike_one(self, theta):
        self.calls += 1
        return super().loglike_one(theta)


class PlainLikelihood:
    """The plain script's normalised ln L of one parameter vector, counting its calls."""

    def __init__(self, ds, model: str):
        self.ds, self.model, self.calls = ds, model, 0
        zhel = ds.z if ds.zhel is None else ds.zhel
        self.hel = 5 * np.log10((1 + zhel) / (1 + ds.z))
        ones = np.ones(ds.n)
        self.e = ones @ np.linalg.solve(ds.cov, ones)
        sign, logdet = np.linalg.slogdet(2 * np.pi * ds.cov)
        self.const = np.log(self.e / (2 * np.pi)) + logdet

    def mu(self, p: float) -> np.ndarray:
        z = self.ds.z
        if self.model == "lcdm":
            return FlatLambdaCDM(H0=70.0, Om0=p, Tcmb0=0).distmod(z).value + self.hel
        dl = (p * z + (1 - p) * (1 - np.sqrt(1 + 2 * p * z))) / p**2
        return 5 * np.log10(dl) + self.hel

    def __call__(self, theta) -> float:
        self.calls += 1
        p = float(theta[0])
        if self.model == "janus" and not 1 + 2 * p * self.ds.z.max() > 0:
            return -np.inf
        r = self.ds.values - self.mu(p)
        cr = np.linalg.solve(self.ds.cov, r)
        b = cr.sum()
        return -0.5 * (r @ cr - b * b / self.e + self.const)


def _plain_emcee(log_prob, bounds, p0, workdir: Path, deadline: float) -> dict:
    """Stock emcee with HDFBackend, stopped by janusfit's rule; ``log_prob`` takes one vector."""
    lo, hi = bounds[:, 0], bounds[:, 1]

    def log_post(theta):
        return log_prob(theta) if np.all((theta >= lo) & (theta <= hi)) else -np.inf

    backend = emcee.backends.HDFBackend(str(workdir / "plain.h5"))
    backend.reset(N_WALKERS, len(lo))
    sampler = emcee.EnsembleSampler(N_WALKERS, len(lo), log_post, backend=backend)
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
    return {"steps": int(sampler.iteration), "converged": converged, "capped": capped}


def _plain_dynesty(loglike, bounds, deadline: float) -> dict:
    lo, hi = bounds[:, 0], bounds[:, 1]

    def capped_loglike(theta):
        if time.perf_counter() > deadline:
            raise TimeoutError
        return max(loglike(theta), DYNESTY_FLOOR)

    try:
        # dynesty prints a traceback of the cap's TimeoutError before re-raising it.
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            sampler = dynesty.NestedSampler(capped_loglike, lambda u: lo + u * (hi - lo), len(lo),
                                            rstate=np.random.default_rng(42))
            sampler.run_nested(dlogz=0.1, print_progress=False)
    except TimeoutError:
        return {"capped": True}
    return {"capped": False, "logz": float(sampler.results.logz[-1]), "logz_err": float(sampler.results.logzerr[-1])}


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def run_pair(ds_name: str, model_name: str, cap_s: float, log=print) -> dict:
    from janusfit.models import get_model
    from janusfit.sampling.dynesty_runner import DynestySettings, run_dynesty
    from janusfit.sampling.emcee_runner import EmceeSettings, initial_positions, run_emcee
    from janusfit.sampling.fingerprint import make_fingerprint
    from janusfit.sampling.session import CheckpointSession

    ds = load(ds_name)
    out = {"dataset": ds_name, "model": model_name}
    with tempfile.TemporaryDirectory(prefix="janusfit-e2e-") as tmp:
        tmp = Path(tmp)
        post = CountingPosterior(get_model(model_name), [ds])
        settings = EmceeSettings(n_walkers=N_WALKERS, max_steps=MAX_STEPS)
        fp = make_fingerprint(post, "emcee", settings.chain_settings())
        with CheckpointSession(tmp / "emcee", fp, log=_quiet) as session:
            res, wall = _timed(lambda: run_emcee(post, settings, session, tmp / "chain.h5", log=_quiet))
        out["janusfit_emcee"] = {"wall_s": wall, "calls": post.calls, "steps": res.n_steps, "converged": res.converged}

        post = CountingPosterior(get_model(model_name), [ds])
        dset = DynestySettings()
        fp = make_fingerprint(post, "dynesty", dset.chain_settings())
        with CheckpointSession(tmp / "dynesty", fp, log=_quiet) as session:
            (dres, _), wall = _timed(lambda: run_dynesty(post, dset, session, log=_quiet))
        out["janusfit_dynesty"] = {"wall_s": wall, "calls": post.calls, "logz": dres.logz, "logz_err": dres.logz_err}

        p0 = initial_positions(post, N_WALKERS, np.random.default_rng(42))
        plain = PlainLikelihood(ds, model_name)
        stats, wall = _timed(lambda: _plain_emcee(plain, post.bounds, p0, tmp, time.perf_counter() + cap_s))
        out["plain_emcee"] = {"wall_s": wall, "calls": plain.calls, **stats}
        plain_dyn = PlainLikelihood(ds, model_name)
        stats, wall = _timed(lambda: _plain_dynesty(plain_dyn, post.bounds, time.perf_counter() + cap_s))
        out["plain_dynesty"] = {"wall_s": wall, "calls": plain_dyn.calls, **stats}

        for key, runner in (("plain_emcee", lambda like: _plain_emcee(like, post.bounds, p0, tmp / "proj", np.inf)),
                            ("plain_dynesty", lambda like: _plain_dynesty(like, post.bounds, np.inf))):
            if out[key]["capped"]:
                out[key] = _project(out[key], runner, post, plain, tmp)
    log(f"  {ds_name:10s} {model_name:5s} " + "  ".join(
        f"{k}: {v['wall_s']:.1f} s{' (projected)' if v.get('projected') else ''}, {v['calls']} calls"
        for k, v in out.items() if isinstance(v, dict)))
    return out


def _project(capped: dict, runner, post, plain: PlainLikelihood, tmp: Path) -> dict:
    """Calls to the stopping rule of the same plain set-up run with janusfit's ln L, priced at the plain ln L's cost."""
    (tmp / "proj").mkdir(exist_ok=True)
    calls = {"n": 0}

    def fast(theta):
        calls["n"] += 1
        return float(post.loglike_one(np.asarray(theta, dtype=float)))

    stats, wall = _timed(lambda: runner(fast))
    centre = post.prior_centre() if plain.model == "lcdm" else np.array([-0.05])
    _, per_call = _timed(lambda: [plain(centre) for _ in range(20)])
    per_call /= 20
    return {**stats, "projected": True, "calls": calls["n"], "wall_s": wall + calls["n"] * per_call,
            "capped_run": capped, "plain_s_per_call": per_call}


def _quiet(*_args, **_kwargs):
    pass


def run(quick: bool, log=print) -> dict:
    pairs = [("union3", "lcdm")]
    if not quick:
        pairs += [("union3", "janus"), ("jla_binned", "lcdm"), ("jla_binned", "janus")]
    cap = 8.0 if quick else 20.0
    return {"cap_s": cap, "rows": [run_pair(d, m, cap, log) for d, m in pairs]}
