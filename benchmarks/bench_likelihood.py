"""Likelihood throughput: janusfit against per-call baselines and the machine's floor.

For each dataset, model and batch size, four things are timed in alternating
blocks (see common.alternate), all on the same fixed parameter vectors:

- janusfit: ``Posterior.__call__`` on the batch (prior, domain, NaN checks included);
- baseline: what a plain script does per parameter vector. ΛCDM: astropy
  ``FlatLambdaCDM(...).distmod`` (the objects built outside the timed region,
  one per vector, as astropy 8 takes ~30 ms to build one) or ``.H`` for H(z);
  JANUS: the Mattig form in plain numpy. Full covariances: ``numpy.linalg.solve``
  per call;
- best plain numpy per call: ΛCDM distances by 16-node Gauss–Legendre on
  [0, z_i] (nodes and (1+z)³ precomputed) or by scipy's hyp2f1, whichever is
  faster; JANUS the cancellation-free closed form; full covariances through a
  precomputed inverse (one matrix–vector product per call);
- floor: diagonal errors: one compiled (numba, fastmath) pass over a batch × N
  array of model magnitudes computing r = (μ_obs − μ)/σ, Σr² and Σr/σ — the
  arithmetic every evaluation must do at least once per element, given μ.
  Full covariance: the triangular solve of the Cholesky factor against the
  batch of residual vectors, the fastest of scipy.linalg.solve_triangular,
  LAPACK dtrtrs (BLAS dtrsm) with a Fortran-ordered factor, and two compiled
  (numba) forward substitutions, one row at a time and with the batch
  innermost (vectorised across the batch, as dtrsm is) — on a busy 2-core VM
  multithreaded BLAS can take milliseconds for a 22 × 22 solve, which alone
  would make a lenient floor;
- model alone: janusfit's evaluation of the model on the same batch, as
  ``Posterior.__call__`` makes it (ln D at the interpolation nodes or at every
  supernova, E(z) at every H(z) point). The floor takes μ as given, so this
  part of janusfit's time is outside it; the row reports the ratio to the
  floor with and without it.

The per-call baselines loop over vectors, so their rate does not depend on the
batch; they are timed on up to ``baseline_rows`` vectors of the batch. Before
timing, every baseline's ln L is checked against janusfit's (max |Δχ²|).
"""

from __future__ import annotations

import warnings
from importlib.metadata import version

import numba
import numpy as np
from astropy.cosmology import FlatLambdaCDM
from common import alternate, load, synthetic_full_cov
from numpy.polynomial import legendre
from scipy.linalg import lapack, solve_triangular
from scipy.special import hyp2f1

DATASETS = ("pantheon+", "synthetic_full_1701", "union3", "chronometers")
MODELS = ("lcdm", "janus")
BATCHES = (1, 32, 128)
H0_REF = 70.0


def thetas(post, n: int, seed: int = 1) -> np.ndarray:
    """n prior draws (fixed seed) whose ln posterior is within 25 of the best of 4000 draws.

    This is where a sampler spends its calls: the bulk and near tails of the
    posterior, inside the model's domain.
    """
    rng = np.random.default_rng(seed)
    lo, hi = post.bounds[:, 0], post.bounds[:, 1]
    draws = lo + rng.random((4000, post.ndim)) * (hi - lo)
    lp = post(draws)
    kept = draws[lp > lp.max() - 25.0]
    return kept[rng.integers(0, len(kept), n)]


# ---------------------------------------------------------------- per-call baselines


class Plain:
    """What a plain script precomputes once for a dataset: the (1 + z_hel) term, E = Σ C⁻¹, weights."""

    def __init__(self, ds):
        self.ds = ds
        z = ds.z
        zhel = z if ds.zhel is None else ds.zhel
        self.hel = 5 * np.log10((1 + zhel) / (1 + z))  # astropy's distmod uses z in both factors
        self.log_hel = 5 * np.log10(1 + zhel)
        ones = np.ones(ds.n)
        if ds.has_full_cov:
            self.cinv = np.linalg.inv(ds.cov)
            self.e = ones @ self.cinv @ ones
        else:
            self.w = 1.0 / ds.sigma**2
            self.e = self.w.sum()

    def chi2(self, r, solve) -> float:
        """Marginalised χ² of one residual vector, C⁻¹r given by ``solve``."""
        cr = solve(r)
        a, b = r @ cr, cr.sum()
        return a - b * b / self.e + np.log(self.e / (2 * np.pi))

    def solve_per_call(self):
        ds = self.ds
        return (lambda r: np.linalg.solve(ds.cov, r)) if ds.has_full_cov else (lambda r: r * self.w)

    def solve_precomputed(self):
        return (lambda r: self.cinv @ r) if self.ds.has_full_cov else (lambda r: r * self.w)


def baseline(plain: Plain, model: str, rows: np.ndarray):
    """The plain-script evaluation: one call per parameter vector."""
    ds = plain.ds
    z = ds.z
    if ds.kind == "hz":
        if model == "lcdm":
            cosmos = [FlatLambdaCDM(H0=h0, Om0=om, Tcmb0=0) for om, h0 in rows]
            return lambda: [np.sum(((ds.values - c.H(z).value) / ds.sigma) ** 2) for c in cosmos]
        return lambda: [np.sum(((ds.values - h0 * (1 + z) * np.sqrt(1 + 2 * q * z)) / ds.sigma) ** 2) for q, h0 in rows]
    solve = plain.solve_per_call()
    if model == "lcdm":
        cosmos = [FlatLambdaCDM(H0=H0_REF, Om0=om, Tcmb0=0) for (om,) in rows]
        return lambda: [plain.chi2(ds.values - c.distmod(z).value - plain.hel, solve) for c in cosmos]

    def mattig(q):
        dl = (q * z + (1 - q) * (1 - np.sqrt(1 + 2 * q * z))) / q**2
        return 5 * np.log10(dl) + plain.hel

    return lambda: [plain.chi2(ds.values - mattig(q), solve) for (q,) in rows]


def numpy_best(plain: Plain, model: str, rows: np.ndarray) -> dict:
    """The best plain-numpy per-call evaluations (ΛCDM: two of them; the faster one counts)."""
    ds = plain.ds
    z = ds.z
    if ds.kind == "hz":
        if model == "lcdm":
            zp3 = (1 + z) ** 3
            return {
                "closed form": lambda: [
                    np.sum(((ds.values - h0 * np.sqrt(om * zp3 + 1 - om)) / ds.sigma) ** 2) for om, h0 in rows
                ]
            }
        return {
            "closed form": lambda: [
                np.sum(((ds.values - h0 * (1 + z) * np.sqrt(1 + 2 * q * z)) / ds.sigma) ** 2) for q, h0 in rows
            ]
        }
    solve = plain.solve_precomputed()
    if model == "janus":

        def closed(q):
            s = np.sqrt(1 + 2 * q * z)
            return 5 * np.log10(2 * z * (1 + s + z) / ((1 + s) ** 2 * (1 + z))) + plain.log_hel

        return {"closed form": lambda: [plain.chi2(ds.values - closed(q), solve) for (q,) in rows]}
    x, w = legendre.leggauss(16)
    nodes = z[:, None] * (x + 1) / 2
    weights = z[:, None] * w / 2
    zp3 = (1 + nodes) ** 3

    def gl16(om):
        return 5 * np.log10((weights / np.sqrt(om * zp3 + 1 - om)).sum(axis=1)) + plain.log_hel

    zp1 = 1 + z

    def hyp(om):
        # ∫ dz/E = [(1+z) F(−s(1+z)³) − F(−s)]/√(1−Ωm), F = 2F1(1/3, 1/2; 4/3; ·), s = Ωm/(1−Ωm); Ωm < 1.
        s = om / (1 - om)
        d = (zp1 * hyp2f1(1 / 3, 0.5, 4 / 3, -s * zp1**3) - hyp2f1(1 / 3, 0.5, 4 / 3, -s)) / np.sqrt(1 - om)
        return 5 * np.log10(d) + plain.log_hel

    return {
        "GL16": lambda: [plain.chi2(ds.values - gl16(om), solve) for (om,) in rows],
        "hyp2f1": lambda: [plain.chi2(ds.values - hyp(om), solve) for (om,) in rows],
    }


# ---------------------------------------------------------------- floors


@numba.njit(cache=True, fastmath=True)
def _floor_pass(mu_model, mu_obs, inv_sigma, out):
    for b in range(mu_model.shape[0]):
        a = 0.0
        s = 0.0
        for i in range(mu_model.shape[1]):
            r = (mu_obs[i] - mu_model[b, i]) * inv_sigma[i]
            a += r * r
            s += r * inv_sigma[i]
        out[b] = a - s * s


@numba.njit(cache=True, fastmath=True)
def _forward(lt, rows, out):
    """out ← L⁻¹ rows, row by row, with lt = Lᵀ (column k of L contiguous)."""
    n = lt.shape[0]
    for b in range(rows.shape[0]):
        r, o = rows[b], out[b]
        o[:] = r
        for k in range(n):
            y = o[k] / lt[k, k]
            o[k] = y
            col = lt[k]
            for i in range(k + 1, n):
                o[i] -= col[i] * y


@numba.njit(cache=True, fastmath=True)
def _forward_batch(lt, cols, work):
    """work ← L⁻¹ cols for an N × batch matrix of residual columns, the batch innermost (as dtrsm vectorises)."""
    n, nb = cols.shape
    work[:] = cols
    for k in range(n):
        wk, d, col = work[k], lt[k, k], lt[k]
        for b in range(nb):
            wk[b] /= d
        for i in range(k + 1, n):
            wi, c = work[i], col[i]
            for b in range(nb):
                wi[b] -= c * wk[b]


def floors(ds, batch: int) -> dict:
    rng = np.random.default_rng(0)
    if not ds.has_full_cov:
        mu_model = rng.normal(size=(batch, ds.n)) + ds.values
        inv_sigma, out = 1.0 / ds.sigma, np.empty(batch)
        return {"fused pass": lambda: _floor_pass(mu_model, ds.values, inv_sigma, out)}
    chol = np.linalg.cholesky(ds.cov)
    chol_f, chol_t = np.asfortranarray(chol), np.ascontiguousarray(chol.T)
    resid = rng.normal(size=(batch, ds.n))
    work, cols = resid.copy(), np.ascontiguousarray(resid.T)
    work_cols = np.empty_like(cols)
    return {
        "solve_triangular": lambda: solve_triangular(chol, resid.T, lower=True, check_finite=False),
        "dtrtrs": lambda: lapack.dtrtrs(chol_f, resid.T, lower=1),
        "compiled": lambda: _forward(chol_t, resid, work),
        "compiled, batch inner": lambda: _forward_batch(chol_t, cols, work_cols),
    }


# ---------------------------------------------------------------- the section


def model_alone(post, theta: np.ndarray):
    """janusfit's model evaluation for ``theta``, exactly as its likelihood calls it."""
    model, tm = post.model, np.ascontiguousarray(theta[:, : len(post.model.params)])
    if post.hz:
        z = post.hz[0].z
        return lambda: model.E(tm, z)
    like = post.sn[0]
    return lambda: np.log(model.transverse_distance(tm, like.model_grid))


def run(quick: bool, log=print) -> dict:
    from janusfit.likelihood import Posterior
    from janusfit.models import get_model

    reps, block = (3, 0.02) if quick else (5, 0.05)
    data = {name: (synthetic_full_cov() if name == "synthetic_full_1701" else load(name)) for name in DATASETS}
    rows_out = []
    for ds_name, ds in data.items():
        plain = Plain(ds)
        for model_name in MODELS:
            post = Posterior(get_model(model_name), [ds])
            all_rows = thetas(post, max(BATCHES))
            base_rows = all_rows[: (2 if ds.n > 1000 and ds.has_full_cov else 8)]
            accuracy = _check(post, plain, model_name, base_rows)
            for batch in BATCHES:
                theta = np.ascontiguousarray(all_rows[:batch])
                cands = {
                    "janusfit": lambda theta=theta: post(theta),
                    "janusfit:model": model_alone(post, theta),
                    "baseline": baseline(plain, model_name, base_rows),
                }
                best = numpy_best(plain, model_name, base_rows)
                cands.update({f"numpy:{k}": v for k, v in best.items()})
                floor = floors(ds, batch)
                cands.update({f"floor:{k}": v for k, v in floor.items()})
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    t = alternate(cands, reps, block)
                per_eval = {"janusfit": t["janusfit"] / batch, "baseline": t["baseline"] / len(base_rows)}
                best_name = min(best, key=lambda k: t[f"numpy:{k}"])
                per_eval["numpy_best"] = t[f"numpy:{best_name}"] / len(base_rows)
                floor_name = min(floor, key=lambda k: t[f"floor:{k}"])
                row = {
                    "dataset": ds_name,
                    "n": ds.n,
                    "full_cov": ds.has_full_cov,
                    "model": model_name,
                    "batch": batch,
                    "evals_per_s": 1.0 / per_eval["janusfit"],
                    "speedup_vs_baseline": per_eval["baseline"] / per_eval["janusfit"],
                    "speedup_vs_numpy_best": per_eval["numpy_best"] / per_eval["janusfit"],
                    "numpy_best": best_name,
                    "floor_s": t[f"floor:{floor_name}"],
                    "floor": floor_name,
                    "janusfit_s_per_call": t["janusfit"],
                    "ratio_to_floor": t["janusfit"] / t[f"floor:{floor_name}"],
                    "model_s_per_call": t["janusfit:model"],
                    "ratio_to_floor_without_model": (t["janusfit"] - t["janusfit:model"]) / t[f"floor:{floor_name}"],
                    "baseline_evals_per_s": 1.0 / per_eval["baseline"],
                    "max_abs_dchi2_vs_baseline": accuracy,
                    "medians_s_per_call": t,
                }
                row["status"] = _status(row)
                rows_out.append(row)
                log(
                    f"  {ds_name:20s} {model_name:5s} batch {batch:4d}: {row['evals_per_s']:12.0f} evals/s  "
                    f"x{row['speedup_vs_baseline']:8.1f} baseline  x{row['speedup_vs_numpy_best']:7.1f} numpy  "
                    f"{row['ratio_to_floor']:6.2f}x floor  {row['status']}"
                )
    return {"rows": rows_out, "reps": reps, "block_s": block, "astropy": version("astropy")}


def _check(post, plain: Plain, model: str, rows: np.ndarray) -> float:
    """max |Δχ²| between janusfit and the baseline on ``rows`` (the constant ln det 2πC aside)."""
    ours = -2.0 * post.log_likelihood(rows) - post.norm
    theirs = np.array(baseline(plain, model, rows)())
    return float(np.max(np.abs(ours - theirs)))


def _status(row: dict) -> str:
    missed = []
    if row["dataset"] == "pantheon+" and row["batch"] == 32:
        if row["speedup_vs_baseline"] < 30:
            missed.append("<30x baseline")
        if row["speedup_vs_numpy_best"] < 10:
            missed.append("<10x numpy")
    if row["batch"] >= 32 and row["ratio_to_floor"] > 3:
        missed.append(">3x floor")
    return "MISSED " + ", ".join(missed) if missed else "ok"
