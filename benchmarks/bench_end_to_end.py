"""End to end: wall time and likelihood calls to a converged posterior and to ln Z.

For each dataset (Union3, JLA binned) and model (flat ΛCDM, JANUS):

- janusfit: ``run_emcee`` (32 walkers, defaults: DE move, stop when N > 50 τ
  and τ moved < 1 %, checked every 500 steps) and ``run_dynesty`` (static,
  500 live points, dlogz 0.1), each inside a CheckpointSession;
- the plain script of plain_script.py (astropy or numpy per call, stock emcee
  with ``HDFBackend``, dynesty's defaults), in a fresh interpreter: this one,
  and for ΛCDM also a virtual environment with astropy 6.1,
  ``benchmarks/.astropy61``, which the first run builds with pip. Building a
  ``FlatLambdaCDM`` takes ~14 ms in astropy ≥ 7.1 and ~0.3 ms in 6.1, so the
  two plain scripts differ by an order of magnitude and the target is set
  against the faster one. A plain run that hits its wall-clock cap is
  projected (see plain_script.py).

Every emcee chain, janusfit's and the plain script's, then goes through
janusfit's convergence checks (N/τ > 50, rank-normalised R̂ < 1.01, bulk ESS ≥
400, mean acceptance 0.2–0.5): the row says whether all pass. Both sides draw
their initial walkers the same way and use the same normalised likelihood, so
their ln Z agree. Likelihood calls count parameter vectors inside the prior.

janusfit's rows also time its likelihood inside each run; the rest of the
wall time is the sampler's own work (emcee's moves, dynesty's bounds and
proposals) and janusfit's checkpoints. That rest bounds the ratio a faster
likelihood could reach against the plain script.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
import venv
from importlib.metadata import version
from pathlib import Path

import emcee
import numpy as np
from common import REPO, load

from janusfit.diagnostics import diagnose
from janusfit.likelihood import Posterior

N_WALKERS = 32
TARGET = 10.0  # × faster than the faster plain script
ASTROPY61 = REPO / "benchmarks" / ".astropy61" / "bin" / "python"


# numpy 2.4 removed np.in1d, which astropy 6.1 still uses.
ASTROPY61_PACKAGES = ["astropy~=6.1.0", "numpy~=2.2.0", "emcee", "dynesty", "h5py", "scipy"]


class CountingPosterior(Posterior):
    """A Posterior that counts the parameter vectors its likelihood evaluates, and the seconds it takes.

    Picklable, as dynesty's checkpoint needs.
    """

    calls = 0
    seconds = 0.0

    def _log_likelihood(self, theta):
        t0 = time.perf_counter()
        out = super()._log_likelihood(theta)
        self.seconds += time.perf_counter() - t0
        self.calls += len(theta)
        return out


def _diagnostics(chain_path, names) -> dict:
    backend = emcee.backends.HDFBackend(str(chain_path), read_only=True)
    report = diagnose(backend.get_chain(), backend.get_log_prob(), backend.accepted, names)
    return {
        "passed": report["passed"],
        "failures": report["failures"],
        "tau": [report["parameters"][n]["tau"] for n in names],
    }


def _janusfit(ds, model_name: str, tmp: Path) -> dict:
    from janusfit.models import get_model
    from janusfit.sampling.dynesty_runner import DynestySettings, run_dynesty
    from janusfit.sampling.emcee_runner import EmceeSettings, run_emcee
    from janusfit.sampling.fingerprint import make_fingerprint
    from janusfit.sampling.session import CheckpointSession

    out = {}
    post = CountingPosterior(get_model(model_name), [ds])
    settings = EmceeSettings(n_walkers=N_WALKERS, max_steps=100_000)
    fp = make_fingerprint(post, "emcee", settings.chain_settings())
    t0 = time.perf_counter()
    with CheckpointSession(tmp / "emcee", fp, log=_quiet) as session:
        res = run_emcee(post, settings, session, tmp / "chain.h5", log=_quiet)
    out["emcee"] = {
        "wall_s": time.perf_counter() - t0,
        "calls": post.calls,
        "likelihood_s": post.seconds,
        "steps": res.n_steps,
        "converged": res.converged,
        **_diagnostics(tmp / "chain.h5", post.param_names),
    }

    post = CountingPosterior(get_model(model_name), [ds])
    dset = DynestySettings()
    fp = make_fingerprint(post, "dynesty", dset.chain_settings())
    t0 = time.perf_counter()
    with CheckpointSession(tmp / "dynesty", fp, log=_quiet) as session:
        dres, _ = run_dynesty(post, dset, session, log=_quiet)
    out["dynesty"] = {
        "wall_s": time.perf_counter() - t0,
        "calls": post.calls,
        "likelihood_s": post.seconds,
        "logz": dres.logz,
        "logz_err": dres.logz_err,
    }
    return out


def _plain(python: str, ds, model_name: str, sampler: str, cap_s: float, tmp: Path) -> dict:
    """plain_script.py under ``python``, on the same data, prior and initial walkers as janusfit."""
    from janusfit.models import get_model
    from janusfit.sampling.emcee_runner import initial_positions

    post = Posterior(get_model(model_name), [ds])
    work = Path(tempfile.mkdtemp(prefix=f"plain-{sampler}-", dir=tmp))
    cov = ds.cov if ds.has_full_cov else np.diag(ds.sigma**2)
    job = {
        "z": ds.z,
        "zhel": ds.z if ds.zhel is None else ds.zhel,
        "values": ds.values,
        "cov": cov,
        "model": model_name,
        "bounds": post.bounds,
        "sampler": sampler,
        "cap_s": cap_s,
        "p0": initial_positions(post, N_WALKERS, np.random.default_rng(42)),
        "workdir": str(work),
    }
    np.savez(work / "job.npz", **job)
    script = REPO / "benchmarks" / "plain_script.py"
    out = subprocess.run(
        [python, str(script), str(work / "job.npz"), str(work / "out.json")],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=3600,
    )
    if out.returncode != 0:
        raise RuntimeError(f"plain script failed under {python}:\n{out.stderr[-3000:]}")
    res = json.loads((work / "out.json").read_text())
    if sampler == "emcee":
        res.update(_diagnostics(res["chain"], post.param_names))
    return res


def run_pair(ds_name: str, model_name: str, cap_s: float, log=print) -> dict:
    ds = load(ds_name)
    pythons = {"installed": sys.executable}
    # JANUS's plain ln L uses no astropy: one plain script is enough.
    if model_name == "lcdm" and ASTROPY61.exists():
        pythons["astropy61"] = str(ASTROPY61)
    out = {"dataset": ds_name, "model": model_name}
    with tempfile.TemporaryDirectory(prefix="janusfit-e2e-") as tmp:
        tmp = Path(tmp)
        ours = _janusfit(ds, model_name, tmp)
        for sampler in ("emcee", "dynesty"):
            plain = {
                name: _plain(py, ds, model_name, sampler, cap_s * (10 if name == "astropy61" else 1), tmp)
                for name, py in pythons.items()
            }
            fastest = min(plain, key=lambda k: plain[k]["wall_s"])
            ratio = plain[fastest]["wall_s"] / ours[sampler]["wall_s"]
            row = {"janusfit": ours[sampler], "plain": plain, "fastest_plain": fastest, "speedup": ratio}
            row["status"] = _status(row, model_name, sampler)
            out[sampler] = row
            log(
                f"  {ds_name:10s} {model_name:5s} {sampler:7s} janusfit {ours[sampler]['wall_s']:6.1f} s "
                f"{ours[sampler]['calls']:7d} calls | "
                + " | ".join(
                    f"plain (astropy {p['astropy']}) {p['wall_s']:7.1f} s{' projected' if p['projected'] else ''} "
                    f"{p['calls']:7d} calls"
                    for p in plain.values()
                )
                + f" | x{ratio:.1f} vs the faster  {row['status']}"
            )
    return out


def _status(row: dict, model_name: str, sampler: str) -> str:
    missed = []
    if sampler == "emcee" and not row["janusfit"]["passed"]:
        missed.append("janusfit's chain fails a convergence check")
    if model_name == "lcdm" and "astropy61" not in row["plain"]:
        return "not evaluated: no astropy 6.1 environment"
    if row["speedup"] < TARGET:
        missed.append(f"<{TARGET:g}x the faster plain script")
    return "MISSED " + ", ".join(missed) if missed else "ok"


def ensure_astropy61(log=print) -> None:
    """Build benchmarks/.astropy61 (a venv with astropy 6.1 and the plain script's samplers) unless it exists."""
    if ASTROPY61.exists():
        return
    env_dir = ASTROPY61.parent.parent
    log(f"  building {env_dir} with pip: {' '.join(ASTROPY61_PACKAGES)}")
    venv.create(env_dir, with_pip=True, clear=True)
    out = subprocess.run(
        [str(ASTROPY61), "-m", "pip", "install", "--quiet", *ASTROPY61_PACKAGES],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if out.returncode != 0:
        ASTROPY61.unlink(missing_ok=True)  # a half-built environment is rebuilt next time
        log(f"  could not build {env_dir} (pip exit {out.returncode}): {out.stderr.strip()[-500:]}")


def astropy61_version() -> str | None:
    if not ASTROPY61.exists():
        return None
    out = subprocess.run(
        [str(ASTROPY61), "-c", "import astropy; print(astropy.__version__)"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return out.stdout.strip() or None


def _quiet(*_args, **_kwargs):
    pass


def run(quick: bool, log=print) -> dict:
    pairs = [("union3", "lcdm")]
    if not quick:
        pairs += [("union3", "janus"), ("jla_binned", "lcdm"), ("jla_binned", "janus")]
    cap = 8.0 if quick else 20.0
    ensure_astropy61(log)
    found = astropy61_version()
    log(
        f"  plain scripts: astropy {version('astropy')} (this interpreter)"
        + (f", astropy {found} ({ASTROPY61})" if found else ", no astropy 6.1 environment at " + str(ASTROPY61))
    )
    return {"cap_s": cap, "astropy61": found, "rows": [run_pair(d, m, cap, log) for d, m in pairs]}
