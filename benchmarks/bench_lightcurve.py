"""JLA light-curve likelihood (740 supernovae, α and β sampled): janusfit against Cobaya's sn.jla and plain numpy.

For JANUS on the real ``jla_lcparams.txt``, at batch 1, 16 and 32, statistical
errors only and with synthetic systematic matrices (the six N × N blocks of a
random positive-definite 3N × 3N C_η, as the release writes them; every
(α, β) then needs its own 740 × 740 Cholesky factor), four things are timed
in alternating blocks (common.alternate) on the same parameter vectors near
the posterior (q0, α, β):

- janusfit: ``Posterior.__call__`` on the batch (model, prior and NaN checks
  included);
- Cobaya: ``sn.jla``'s own ``alpha_beta_logp`` (Cobaya 3.x, CosmoMC's
  algorithm: an N × N inverse per new (α, β)) fed the same files, per vector,
  with the distances computed outside the timed region: Cobaya's likelihood
  alone, without its theory;
- plain numpy/scipy per vector: the Mattig closed form, the covariance, a
  Cholesky factorisation (scipy ``cho_factor``/``cho_solve``; stat-only: the
  weighted sums) and the two-offset formula;
- floor (stat-only): one compiled pass over batch × N that, given μ, forms each
  supernova's variance and residual and the four sums of the formula — the
  arithmetic every evaluation needs at least once per element. The row gives
  janusfit's ratio to it with and without the model's time.

Every baseline's ln L differences are checked against janusfit's before timing.
How the C_η evaluation scales with threads is the ``threads`` section's
(bench_threads.py): its rows run on numba's threads, not on BLAS's.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numba
import numpy as np
from common import alternate, shared_data
from scipy.linalg import cho_factor, cho_solve

BATCHES = (1, 16, 32)
N_ETA_RANK = 40


def _dataset():
    from janusfit.data import load_dataset

    # pecz as the Cobaya .dataset the comparison writes (below), so that both count the same variance.
    path = str(shared_data() / "jla" / "jla_lcparams.txt")
    return load_dataset("jla740", {"kind": "sn", "format": "jla_lcparams", "path": path, "pecz": 0.001})


def synthetic_covmats(n: int, seed: int = 20261201) -> dict:
    """The six release blocks of a random SPD C_η (low rank + diagonal, ≈ 0.1 mag of correlated scatter)."""
    rng = np.random.default_rng(seed)
    g = rng.normal(scale=0.1 / np.sqrt(N_ETA_RANK), size=(3 * n, N_ETA_RANK))
    c_eta = g @ g.T + np.diag(rng.uniform(1e-4, 4e-4, 3 * n))
    block = {(i, j): c_eta[i::3, j::3] for i in range(3) for j in range(3)}

    def sym(a):
        return np.ascontiguousarray(0.5 * (a + a.T))

    return {
        "v0": sym(block[0, 0]),
        "va": sym(block[1, 1]),
        "vb": sym(block[2, 2]),
        "v0a": sym(block[0, 1]),
        "v0b": sym(block[0, 2]),
        "vab": sym(block[1, 2]),
    }


def thetas(n: int, seed: int = 2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.normal(-0.07, 0.015, n), rng.normal(0.14, 0.006, n), rng.normal(3.1, 0.08, n)])


# Cobaya's names of the release's matrices
COBAYA_NAMES = {
    "v0": "mag",
    "va": "stretch",
    "vb": "colour",
    "v0a": "mag_stretch",
    "v0b": "mag_colour",
    "vab": "stretch_colour",
}


def cobaya_jla(root: Path, covmats: dict | None):
    """Cobaya's sn.jla likelihood object on the shared file (and these matrices), through janusfit's JANUS theory."""
    from cobaya.model import get_model as cobaya_model

    sn_data = root / "data" / "sn_data"
    jla = sn_data / "JLA"
    jla.mkdir(parents=True, exist_ok=True)
    (sn_data / "version.dat").write_text("v1.8\n")
    if not (jla / "jla_lcparams.txt").exists():
        (jla / "jla_lcparams.txt").symlink_to(shared_data() / "jla" / "jla_lcparams.txt")
    n = 740
    lines = [
        "name = JLA",
        "data_file = JLA/jla_lcparams.txt",
        "pecz = 0.001",
        "intrinsicdisp = 0",
        "twoscriptmfit = T",
        "scriptmcut = 10.0",
    ]
    # Statistical errors only: an all-zero matrix switches on Cobaya's (α, β)-dependent variance.
    matrices = covmats or {"va": np.zeros((n, n))}
    for key, matrix in matrices.items():
        name = COBAYA_NAMES[key]
        path = jla / f"{name}.dat"
        path.write_text(f"{n}\n" + "\n".join(f"{v:.17g}" for v in matrix.ravel()) + "\n")
        lines += [f"has_{name}_covmat = T", f"{name}_covmat_file = JLA/{name}.dat"]
    (jla / "jla.dataset").write_text("\n".join(lines) + "\n")
    model = cobaya_model(
        {
            "theory": {"janusfit.cobaya_theory.Janus": None},
            "likelihood": {"sn.jla": None},
            "params": {
                "q0": {"prior": {"min": -0.5, "max": 0.0}},
                "H0": 70.0,
                "alpha_jla": {"prior": {"min": 0.0, "max": 1.0}},
                "beta_jla": {"prior": {"min": 0.0, "max": 5.0}},
            },
            "packages_path": str(root),
        }
    )
    return model.likelihood["sn.jla"]


def lumdists(dataset, theta: np.ndarray) -> np.ndarray:
    """Cobaya's 5 log10((1 + z_hel)(1 + z_cmb) D_A) with D_A in Mpc (H0 = 70), per row of theta."""
    from janusfit.models import RedshiftGrid, get_model

    d_m = get_model("janus").transverse_distance(theta[:, :1], RedshiftGrid(dataset.z, graded=False))
    return 5.0 * np.log10((1.0 + dataset.zhel) * d_m * 299792.458 / 70.0)


class PlainNumpy:
    """The likelihood per vector as a plain script writes it with numpy and scipy."""

    def __init__(self, dataset, covmats: dict | None, pecz: float = 0.001, split: float = 10.0):
        lc = dataset.light_curves
        self.z, self.zhel, self.lc = dataset.z, dataset.zhel, lc
        self.x = np.column_stack([lc.host_mass <= split, lc.host_mass > split]).astype(float)
        self.pecz_var = (5 / np.log(10)) ** 2 * pecz**2 * ((1 + self.z) / (self.z * (1 + self.z / 2))) ** 2
        self.covmats = covmats

    def __call__(self, theta: np.ndarray) -> float:
        q0, a, b = theta
        s = np.sqrt(1.0 + 2.0 * q0 * self.z)
        d_l = 2.0 * self.z * (1.0 + s + self.z) / (1.0 + s) ** 2
        lc = self.lc
        delta = lc.mb + a * lc.x1 - b * lc.color - 5.0 * np.log10((1.0 + self.zhel) / (1.0 + self.z) * d_l)
        var = (
            lc.dmb**2
            + self.pecz_var
            + a * a * lc.dx1**2
            + b * b * lc.dcolor**2
            + 2 * a * lc.cov_m_s
            - 2 * b * lc.cov_m_c
            - 2 * a * b * lc.cov_s_c
        )
        if self.covmats is None:
            w = 1.0 / var
            big = self.x[:, 1] > 0
            chi2 = np.sum(w * delta**2)
            for group in (~big, big):
                e, s1 = np.sum(w[group]), np.sum(w[group] * delta[group])
                chi2 += np.log(e / (2 * np.pi)) - s1 * s1 / e
            return -0.5 * chi2
        c = self.covmats
        cov = c["v0"] + a * a * c["va"] + b * b * c["vb"] + 2 * a * c["v0a"] - 2 * b * c["v0b"] - 2 * a * b * c["vab"]
        cov[np.diag_indices_from(cov)] += var
        factor = cho_factor(cov, lower=True, overwrite_a=True)
        inv_d, inv_x = cho_solve(factor, delta), cho_solve(factor, self.x)
        f, bb = self.x.T @ inv_x, self.x.T @ inv_d
        return -0.5 * (delta @ inv_d - bb @ np.linalg.solve(f, bb) + np.linalg.slogdet(f / (2 * np.pi))[1])


@numba.njit(cache=True, fastmath=True)
def _floor(mu, mb, x1, c, var0, vx, vc, ms, mc, sc, groups, theta, out):
    for r in range(mu.shape[0]):
        a, b = theta[r, 1], theta[r, 2]
        chi = s0 = s1 = e0 = e1 = 0.0
        for i in range(mu.shape[1]):
            w = 1.0 / (var0[i] + a * a * vx[i] + b * b * vc[i] + 2 * a * ms[i] - 2 * b * mc[i] - 2 * a * b * sc[i])
            d = mb[i] + a * x1[i] - b * c[i] - mu[r, i]
            chi += w * d * d
            if groups[i]:
                s1 += w * d
                e1 += w
            else:
                s0 += w * d
                e0 += w
        out[r] = chi - s0 * s0 / e0 - s1 * s1 / e1


def _max_diff_of_differences(a, b) -> float:
    a, b = np.asarray(a), np.asarray(b)
    return float(np.max(np.abs((a - a[0]) - (b - b[0]))))


def run(quick: bool, log=print) -> dict:
    from dataclasses import replace

    from janusfit.likelihood import Posterior
    from janusfit.models import get_model

    reps, block = (3, 0.5) if quick else (5, 2.0)
    base = _dataset()
    covmats = synthetic_covmats(base.n)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for case, mats in (("stat", None), ("C_eta", covmats)):
            dataset = base if mats is None else replace(base, light_curves=replace(base.light_curves, covmats=mats))
            post = Posterior(get_model("janus"), [dataset])
            cobaya = cobaya_jla(Path(tmp) / case, mats)
            plain = PlainNumpy(dataset, mats)
            lc = dataset.light_curves
            like = post.sn[0]
            for batch in BATCHES:
                th = thetas(max(batch, 8))[:batch] if batch > 1 else thetas(8)[:1]
                probe = thetas(8)
                lum = lumdists(dataset, probe)
                theirs = [cobaya.alpha_beta_logp(lum[k], probe[k, 1], probe[k, 2]) for k in range(len(probe))]
                ours = post(probe)
                plains = [plain(t) for t in probe]
                check = {
                    "cobaya": _max_diff_of_differences(theirs, ours),
                    "numpy": _max_diff_of_differences(plains, ours),
                }
                mu = np.ascontiguousarray(lumdists(dataset, th) - 25.0)
                out = np.empty(batch)
                groups = like.groups
                counter = {"i": 0}

                # The per-vector baselines cycle through the 8 probe vectors at every batch size:
                # Cobaya keeps C⁻¹ of the last (α, β), which a chain's next vector never repeats.
                def cobaya_one():
                    k = counter["i"] = (counter["i"] + 1) % len(probe)
                    cobaya.alpha_beta_logp(lum[k], probe[k, 1], probe[k, 2])

                def plain_one():
                    k = counter["i"] = (counter["i"] + 1) % len(probe)
                    plain(probe[k])

                candidates = {
                    "janusfit": lambda: post(th),
                    "model": lambda: post.model.transverse_distance(th[:, :1], like.grid),
                    "cobaya": cobaya_one,
                    "numpy": plain_one,
                }
                if mats is None:
                    var0, var_x1, var_c = like.variance_terms
                    candidates["floor"] = lambda: _floor(
                        mu,
                        lc.mb,
                        lc.x1,
                        lc.color,
                        var0,
                        var_x1,
                        var_c,
                        lc.cov_m_s,
                        lc.cov_m_c,
                        lc.cov_s_c,
                        groups,
                        th,
                        out,
                    )
                t = alternate(candidates, reps=reps if mats is None else max(2, reps - 2), block_s=block)
                per_eval = {k: v / (batch if k in ("janusfit", "model", "floor") else 1) for k, v in t.items()}
                row = {
                    "case": case,
                    "batch": batch,
                    "n": dataset.n,
                    "check_max_dlnL": check,
                    "evals_per_s": {k: 1.0 / v for k, v in per_eval.items()},
                    "vs_cobaya": per_eval["cobaya"] / per_eval["janusfit"],
                    "vs_numpy": per_eval["numpy"] / per_eval["janusfit"],
                }
                if "floor" in per_eval:
                    row["ratio_to_floor"] = per_eval["janusfit"] / per_eval["floor"]
                    row["ratio_to_floor_without_model"] = (per_eval["janusfit"] - per_eval["model"]) / per_eval["floor"]
                rows.append(row)
                log(
                    f"{case} batch {batch}: janusfit {row['evals_per_s']['janusfit']:,.0f}/s, "
                    f"×{row['vs_cobaya']:.1f} Cobaya, ×{row['vs_numpy']:.1f} numpy"
                    + (f", {row['ratio_to_floor']:.2f}× floor" if "ratio_to_floor" in row else "")
                    + f" (max |Δ ln L differences| {check})"
                )
    return {"rows": rows}
