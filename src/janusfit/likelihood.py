"""Vectorised log-likelihoods and the posterior that samplers call.

Every evaluation takes a batch of parameter vectors, shape (n_batch, n_params),
so that emcee's vectorised moves and the benchmark's batches cost one pass over
the data rather than one pass per walker.

Supernovae: the absolute magnitude M (with H0) is marginalised analytically
under a flat prior (Conley et al. 2011, ApJS 192, 1, App. C). With
Δ = μ_obs − μ_model, A = ΔᵀC⁻¹Δ, B = Σ(C⁻¹Δ) and E = ΣC⁻¹,

    χ² = A − B²/E + ln(E/2π).

The covariance is factored once (Cholesky, C = LLᵀ); a direct evaluation is
one triangular solve y = L⁻¹Δ of the batch, then A = |y|², B = uᵀy with
u = L⁻¹1. Diagonal errors are the special case L = diag(σ). Samples with more
supernovae than interpolation nodes use the equivalent reduced form of
:class:`_ReducedChi2`, whose cost does not grow with N.

The log-likelihood adds the Gaussian normalisation −½ ln det(2πC) so that
dynesty's evidence is a true (marginal) evidence; it cancels in every model
comparison on the same data.

Per-call overhead matters as much as arithmetic here (a sampler makes
millions of calls on 20–1700 points), so the hot paths are a few numba
kernels over whole batches rather than chains of small numpy operations.
"""

from __future__ import annotations

import numba
import numpy as np
from scipy.linalg import cholesky, lapack, solve_triangular

from .data.dataset import Dataset
from .errors import LikelihoodError
from .lightcurve import NUISANCE_LABELS, LightCurveLikelihood
from .models import Model, RedshiftGrid

LOG10_SCALE = 5.0 / np.log(10.0)  # μ = 5 log10 D = LOG10_SCALE · ln D
KNOT_ORDER, KNOT_PANEL = 24, 1.2  # the reduced form's nodes: one degree-23 panel up to z ≈ 2.3
KNOT_TAIL_TOL = 1e-9  # largest trailing Legendre coefficient of g accepted (≈ 2e-9 mag)
# Up to this N a compiled forward substitution beats LAPACK, whose call overhead
# and thread start-up dominate small solves (and vary by 100× between calls).
SMALL_SOLVE = 256


class _Errors:
    """A dataset's covariance as a whitening operator L⁻¹ and its log-determinant.

    Diagonal errors keep 1/σ; a full covariance keeps its Cholesky factor, as
    ``lt`` = Lᵀ (C order, column k of L contiguous) for the compiled forward
    substitution up to SMALL_SOLVE points, else Fortran-ordered for LAPACK,
    which then takes it without a copy per call.
    """

    def __init__(self, dataset: Dataset):
        self.inv_sigma = self.lt = self._chol_f = None
        if dataset.has_full_cov:
            chol = cholesky(dataset.cov, lower=True)
            if chol.shape[0] <= SMALL_SOLVE:
                self.lt = np.ascontiguousarray(chol.T)
            else:
                self._chol_f = np.asfortranarray(chol)
            self.log_det = 2.0 * float(np.sum(np.log(np.diag(chol))))
        else:
            self.inv_sigma = np.ascontiguousarray(1.0 / dataset.sigma)
            self.log_det = 2.0 * float(np.sum(np.log(dataset.sigma)))

    @property
    def diagonal(self) -> bool:
        return self.inv_sigma is not None

    @property
    def chol(self) -> np.ndarray:
        """The lower Cholesky factor L of the covariance."""
        return self.lt.T if self._chol_f is None else self._chol_f

    def whiten(self, rows: np.ndarray) -> np.ndarray:
        """L⁻¹r for each row r of ``rows`` (which may be overwritten), returned as rows."""
        if self.diagonal:
            return rows * self.inv_sigma
        if self.lt is not None:
            _forward_substitution(self.lt, rows)
            return rows
        # rows.T is a Fortran-ordered matrix of columns: solved in place.
        y, info = lapack.dtrtrs(self._chol_f, rows.T, lower=1, overwrite_b=1)
        if info != 0:
            raise np.linalg.LinAlgError(f"triangular solve failed (LAPACK info {info})")
        return y.T

    def whiten_columns(self, columns: np.ndarray) -> np.ndarray:
        """L⁻¹ applied to a vector or to each column of a matrix (set-up only)."""
        if self.diagonal:
            return columns * (self.inv_sigma if columns.ndim == 1 else self.inv_sigma[:, None])
        return solve_triangular(self.chol, columns, lower=True)


class SNLikelihood:
    """χ² of a supernova Hubble diagram with M marginalised analytically.

    It has no nuisance parameters (``nuisance``); light-curve data, whose
    standardisation is sampled, have :class:`~janusfit.lightcurve.LightCurveLikelihood`.

    With more supernovae than interpolation nodes (Pantheon-like samples) the
    χ² is evaluated in reduced form (:class:`_ReducedChi2`); rows it cannot
    vouch for, and small samples, take the direct route through μ at every
    supernova.
    """

    nuisance = ()

    def __init__(self, dataset: Dataset):
        self.dataset = dataset
        # Contiguous copies: a strided column (as pandas may hand over) would
        # select another compiled variant of the kernels, with other rounding,
        # and a pickled copy of this object would then differ in the last bit.
        self.z = np.ascontiguousarray(dataset.z, dtype=float)
        self.zhel = None if dataset.zhel is None else np.ascontiguousarray(dataset.zhel, dtype=float)
        self.mu = np.ascontiguousarray(dataset.values, dtype=float)
        # Ungraded: 1/E(0) = 1 for every model, so the grading towards z = 0 that
        # integrands vanishing there need would only add nodes.
        self.grid = RedshiftGrid(self.z, graded=False)
        self.errors = _Errors(dataset)
        self._u = self.errors.whiten_columns(np.ones_like(self.mu))
        self._E = float(self._u @ self._u)
        self._log_e = float(np.log(self._E / (2.0 * np.pi)))
        self.norm = self.errors.log_det + self.mu.size * np.log(2.0 * np.pi)
        # μ_obs less the (1 + z_hel) factor of the model's μ, which depends on no parameter.
        self._mu_d = self.mu - LOG10_SCALE * np.log1p(self.z if self.zhel is None else self.zhel)
        knots = RedshiftGrid(self.z, order=KNOT_ORDER, max_panel=KNOT_PANEL, graded=False)
        self._reduced = _ReducedChi2(self, knots) if knots.nodes.size < self.mu.size else None

    def chi2(self, model: Model, theta: np.ndarray) -> np.ndarray:
        if self._reduced is None:
            return self._chi2_direct(model, theta)
        chi2, ok, n_ok = self._reduced(model, theta)
        if n_ok < len(theta):
            chi2[~ok] = self._chi2_direct(model, theta[~ok])
        return chi2

    def _chi2_direct(self, model: Model, theta: np.ndarray) -> np.ndarray:
        """Through μ at every supernova: the definition, at O(N) + O(N²) per row."""
        log_d = np.log(model.transverse_distance(theta, self.grid))
        out = np.empty(len(theta))
        if self.errors.diagonal:
            _marginal_chi2_diag(log_d, self._mu_d, self.errors.inv_sigma, self._E, self._log_e, out)
        elif self.errors.lt is not None:
            _marginal_chi2_small(log_d, self._mu_d, self.errors.lt, self._u, self._E, self._log_e, out)
        else:
            _residuals(log_d, self._mu_d)
            _marginal_chi2(self.errors.whiten(log_d), self._u, self._E, self._log_e, out)
        return out


class _ReducedChi2:
    """The marginalised χ² as a quadratic form in ln D at a few interpolation nodes.

    g(z) = ln(D_M H0/c / z) is smooth (the ln z singularity is taken out), so
    the model's μ_i = LOG10_SCALE [ln(1 + z_hel,i) + ln z_i + g(z_i)] is linear
    in g at the P nodes of an ungraded :class:`RedshiftGrid` over the data:
    μ = μ₀ + LOG10_SCALE · G g. The marginalised χ² = |Π L⁻¹(μ_obs − μ)|² +
    ln(E/2π), with Π = I − uuᵀ/E removing the direction of M, is then

        χ² = c₀ − vᵀg + gᵀQg,

    with c₀, v and Q (P × P) computed once. A call costs D at P nodes and one
    P × P product per parameter vector, instead of μ at N redshifts and an
    N × N triangular solve. Rows whose g the nodes do not resolve to
    KNOT_TAIL_TOL (JANUS near the edge of its domain) are reported as not ok,
    to be evaluated directly.
    """

    def __init__(self, like: SNLikelihood, interp: RedshiftGrid):
        self.interp = interp
        # D at the nodes; ungraded, as 1/E(0) = 1 for every model.
        self.knots = RedshiftGrid(interp.nodes, z_max=interp.z_max, graded=False)
        self._log_knots = np.log(interp.nodes)
        self._tail = interp.tail_matrix()
        u, e = like._u, like._E
        # Whitened, with the direction of M projected out: Π L⁻¹ G and Π L⁻¹ (μ_obs − μ₀).
        basis = like.errors.whiten_columns(LOG10_SCALE * interp.interpolation_matrix())
        basis -= np.outer(u, u @ basis) / e
        data = like.errors.whiten_columns(like._mu_d - LOG10_SCALE * np.log(like.z))
        data -= u * (u @ data) / e
        self._q = np.ascontiguousarray(basis.T @ basis)
        self._v = 2.0 * (basis.T @ data)
        self._c0 = float(data @ data) + like._log_e

    def __call__(self, model: Model, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
        """χ² of each row, whether the interpolation resolves that row, and how many it resolves."""
        log_d = np.log(model.transverse_distance(theta, self.knots))
        return _quadratic_chi2(log_d, self._log_knots, self._q, self._v, self._c0, self._tail, KNOT_TAIL_TOL)


class HzLikelihood:
    """Gaussian χ² of H(z) measurements; H0 is a sampled parameter."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset
        self.z = np.ascontiguousarray(dataset.z, dtype=float)
        self.H = np.ascontiguousarray(dataset.values, dtype=float)
        self.errors = _Errors(dataset)
        self.norm = self.errors.log_det + self.H.size * np.log(2.0 * np.pi)

    def chi2(self, model: Model, theta: np.ndarray, H0: np.ndarray) -> np.ndarray:
        e = model.E(theta, self.z)
        out = np.empty(len(theta))
        if self.errors.diagonal:
            _hz_chi2_diag(e, np.ascontiguousarray(H0), self.H, self.errors.inv_sigma, out)
        else:
            y = self.errors.whiten(self.H - H0[:, None] * e)
            np.einsum("ij,ij->i", y, y, out=out)
        return out


# Kernels. error_model="numpy" lets division vectorise (no ZeroDivisionError
# check); no fast-math beyond reassociating sums, so NaN and inf propagate as in
# numpy. Rows are taken as 1-d slices, which numba indexes fastest.
FAST_SUMS = {"reassoc", "contract"}


@numba.njit(cache=True, error_model="numpy")
def _forward_substitution(lt, rows):
    """rows ← L⁻¹ rows in place, row by row; ``lt`` = Lᵀ, so column k of L is contiguous."""
    n = lt.shape[0]
    for b in range(rows.shape[0]):
        r = rows[b]
        for k in range(n):
            y = r[k] / lt[k, k]
            r[k] = y
            col = lt[k]
            for i in range(k + 1, n):
                r[i] -= col[i] * y


@numba.njit(cache=True, error_model="numpy")
def _residuals(log_d, mu_d):
    """log_d ← μ_obs − μ_model in place, row by row."""
    for b in range(log_d.shape[0]):
        r = log_d[b]
        for i in range(r.size):
            r[i] = mu_d[i] - LOG10_SCALE * r[i]


@numba.njit(cache=True, error_model="numpy", fastmath=FAST_SUMS)
def _marginal_chi2(y, u, e, log_e, out):
    """A − B²/E + ln(E/2π) from whitened residual rows y."""
    for b in range(y.shape[0]):
        r = y[b]
        a = 0.0
        s = 0.0
        for i in range(r.size):
            a += r[i] * r[i]
            s += r[i] * u[i]
        out[b] = a - s * s / e + log_e


@numba.njit(cache=True, error_model="numpy", fastmath=FAST_SUMS)
def _marginal_chi2_small(log_d, mu_d, lt, u, e, log_e, out):
    """Residual, forward substitution and A − B²/E + ln(E/2π) of each row, in one call (small N)."""
    n = lt.shape[0]
    r = np.empty(n)
    for b in range(log_d.shape[0]):
        row = log_d[b]
        for i in range(n):
            r[i] = mu_d[i] - LOG10_SCALE * row[i]
        a = 0.0
        s = 0.0
        for k in range(n):
            y = r[k] / lt[k, k]
            a += y * y
            s += y * u[k]
            col = lt[k]
            for i in range(k + 1, n):
                r[i] -= col[i] * y
        out[b] = a - s * s / e + log_e


@numba.njit(cache=True, error_model="numpy", fastmath=FAST_SUMS)
def _marginal_chi2_diag(log_d, mu_d, inv_sigma, e, log_e, out):
    """The same for diagonal errors, fused with the residual: one pass, no temporaries."""
    for b in range(log_d.shape[0]):
        row = log_d[b]
        a = 0.0
        s = 0.0
        for i in range(row.size):
            y = (mu_d[i] - LOG10_SCALE * row[i]) * inv_sigma[i]
            a += y * y
            s += y * inv_sigma[i]
        out[b] = a - s * s / e + log_e


@numba.njit(cache=True, error_model="numpy", fastmath=FAST_SUMS)
def _quadratic_chi2(log_d, log_knots, q, v, c0, tail, tol):
    """c₀ − vᵀg + gᵀQg for g = ln D − ln z_knot, whether the tail of g is below ``tol``, and the count of such rows."""
    p = log_knots.size
    g = np.empty(p)
    chi2 = np.empty(log_d.shape[0])
    ok = np.empty(log_d.shape[0], dtype=np.bool_)
    for b in range(log_d.shape[0]):
        row = log_d[b]
        for j in range(p):
            g[j] = row[j] - log_knots[j]
        acc = c0
        for j in range(p):
            qj = q[j]
            s = -v[j]
            for k in range(p):
                s += qj[k] * g[k]
            acc += g[j] * s
        chi2[b] = acc
        worst = 0.0
        for r in range(tail.shape[0]):
            t = tail[r]
            c = 0.0
            for j in range(p):
                c += t[j] * g[j]
            worst = max(worst, abs(c))
        ok[b] = worst <= tol
    return chi2, ok, ok.sum()


@numba.njit(cache=True, error_model="numpy", fastmath=FAST_SUMS)
def _hz_chi2_diag(e, h0, h, inv_sigma, out):
    for b in range(e.shape[0]):
        row = e[b]
        a = 0.0
        for i in range(row.size):
            y = (h[i] - h0[b] * row[i]) * inv_sigma[i]
            a += y * y
        out[b] = a


@numba.njit(cache=True)
def _inside(theta, bounds):
    """Which rows of ``theta`` are within the (inclusive) bounds, and how many; NaN is outside."""
    ok = np.empty(theta.shape[0], dtype=np.bool_)
    count = 0
    for b in range(theta.shape[0]):
        inside = True
        for k in range(theta.shape[1]):
            inside &= bounds[k, 0] <= theta[b, k] <= bounds[k, 1]
        ok[b] = inside
        count += inside
    return ok, count


@numba.njit(cache=True)
def _to_log_likelihood(chi2, norm, theta):
    """chi2 ← −½(χ² + norm) in place; the first row with a NaN result or a non-finite parameter, or −1."""
    first = -1
    for b in range(theta.shape[0]):
        chi2[b] = -0.5 * (chi2[b] + norm)
        if first < 0 and np.isnan(chi2[b]):
            first = b
        for k in range(theta.shape[1]):
            if first < 0 and not np.isfinite(theta[b, k]):
                first = b
    return first


def _batch(theta) -> np.ndarray:
    theta = np.asarray(theta, dtype=float)
    return theta[None, :] if theta.ndim == 1 else theta


H0_PRIOR = (50.0, 100.0)
DYNESTY_FLOOR = -1e8


class Posterior:
    """Flat-prior posterior of one model on one or more datasets (a run).

    The parameter vector is the model's parameters, followed by ``H0`` when a
    dataset constrains it (H(z) data); supernovae alone do not, since H0 is
    degenerate with M. Then come the nuisance parameters of the datasets
    (α and β of light-curve data), with the flat priors their datasets declare. ``priors`` maps parameter names to ``(low, high)``
    overriding the defaults. Instances are picklable, as dynesty's pool needs.
    """

    def __init__(self, model: Model, datasets: list[Dataset], priors: dict | None = None):
        if not datasets:
            raise ValueError("a posterior needs at least one dataset")
        self.model = model
        self.datasets = list(datasets)
        self.sn = [LightCurveLikelihood.from_dataset(d) if d.light_curves is not None else SNLikelihood(d)
                   for d in datasets if d.kind == "sn"]
        self.hz = [HzLikelihood(d) for d in datasets if d.kind == "hz"]
        self.uses_H0 = bool(self.hz)
        nuisance = {}
        for d, like in zip([d for d in datasets if d.kind == "sn"], self.sn):
            for name, lohi in (LightCurveLikelihood.nuisance_priors(d) if like.nuisance else {}).items():
                if name in nuisance:
                    raise ValueError(f"datasets '{d.name}' and another both sample '{name}'; fit them separately")
                nuisance[name] = lohi
        self.param_names = tuple(model.params) + (("H0",) if self.uses_H0 else ()) + tuple(nuisance)
        self._nuisance_columns = [[self.param_names.index(n) for n in like.nuisance] for like in self.sn]
        self.labels = {**model.labels, "H0": r"$H_0$", **NUISANCE_LABELS}
        bounds = {**model.default_priors, "H0": H0_PRIOR, **nuisance}
        for name, lohi in (priors or {}).items():
            if name not in self.param_names:
                raise KeyError(f"prior on '{name}', which is not a parameter of this run ({', '.join(self.param_names)})")
            bounds[name] = tuple(float(v) for v in lohi)
        self.bounds = np.array([bounds[p] for p in self.param_names], dtype=float)
        self.z_max = max(float(d.z.max()) for d in datasets)
        self.n_data = sum(d.n for d in datasets)
        self.norm = sum(l.norm for l in self.sn + self.hz)
        self._n_model = len(model.params)
        self._has_domain = bool(model.domain_bounds(self.z_max)) or type(model).in_domain is not Model.in_domain
        self.sampling_bounds, self.log_domain_fraction = self.inside_domain(self.bounds)

    @property
    def ndim(self) -> int:
        return len(self.param_names)

    def inside_domain(self, bounds: np.ndarray) -> tuple[np.ndarray, float]:
        """The part of a prior box inside the model's domain box, and the log of the fraction of the box it is.

        The fraction is −inf when nothing is inside (the samplers refuse such
        a prior, naming it). A domain that is not a box leaves the box whole.
        """
        box = np.array(bounds, dtype=float)
        for name, (lo, hi) in self.model.domain_bounds(self.z_max).items():
            row = box[self.param_names.index(name)]
            row[:] = max(row[0], lo), min(row[1], hi)
        widths = box[:, 1] - box[:, 0]
        if not np.all(widths > 0):
            return box, -np.inf
        return box, float(np.sum(np.log(widths / (bounds[:, 1] - bounds[:, 0]))))

    def chi2(self, theta) -> np.ndarray:
        """Total χ² of a batch; +inf outside the model's domain."""
        return self._chi2(_batch(theta))

    def _chi2(self, theta: np.ndarray) -> np.ndarray:
        tm = theta[:, : self._n_model]
        if not self._has_domain:
            return self._chi2_in_domain(theta, tm)
        ok = self.model.in_domain(tm, self.z_max)
        if ok.all():
            return self._chi2_in_domain(theta, tm)
        out = np.full(len(theta), np.inf)
        if ok.any():
            out[ok] = self._chi2_in_domain(theta[ok], tm[ok])
        return out

    def _chi2_in_domain(self, theta: np.ndarray, tm: np.ndarray) -> np.ndarray:
        parts = [like.chi2(self.model, tm, theta[:, cols]) if cols else like.chi2(self.model, tm)
                 for like, cols in zip(self.sn, self._nuisance_columns)]
        parts += [like.chi2(self.model, tm, theta[:, -1]) for like in self.hz]
        total = parts[0]
        for part in parts[1:]:
            total += part
        return total

    def log_likelihood(self, theta) -> np.ndarray:
        """ln L of a batch: −½(χ² + ln det 2πC), −inf outside the domain.

        NaN is never passed on as −inf: it means a bug or a bad input, and the
        error names the parameter vector that produced it.
        """
        return self._log_likelihood(_batch(theta))

    def _log_likelihood(self, theta: np.ndarray) -> np.ndarray:
        logl = self._chi2(theta)
        bad = _to_log_likelihood(logl, self.norm, theta)
        if bad >= 0:
            values = ", ".join(f"{n}={v:.10g}" for n, v in zip(self.param_names, theta[bad]))
            raise LikelihoodError(f"log-likelihood is NaN at {values} (model '{self.model.name}')")
        return logl

    def in_prior(self, theta: np.ndarray) -> np.ndarray:
        return _inside(_batch(theta), self.bounds)[0]

    def __call__(self, theta) -> np.ndarray:
        """ln posterior (unnormalised) of a batch, for emcee's vectorised moves."""
        theta = _batch(theta)
        ok, n_inside = _inside(theta, self.bounds)
        if n_inside == len(theta):
            return self._log_likelihood(theta)
        out = np.full(len(theta), -np.inf)
        if n_inside:
            out[ok] = self._log_likelihood(theta[ok])
        return out

    def log_prior_volume(self) -> float:
        return float(np.sum(np.log(self.bounds[:, 1] - self.bounds[:, 0])))

    def prior_transform(self, u: np.ndarray) -> np.ndarray:
        """Unit cube → the part of the prior inside the model's domain (``sampling_bounds``), for dynesty.

        The likelihood is zero outside the domain, so the evidence over the
        whole prior is the evidence over this part times the fraction of the
        prior it holds: ln Z = ln Z_inside + ``log_domain_fraction``. Sampling
        only inside keeps nested sampling off a plateau of floor likelihoods
        (23 % of JANUS's default prior on JLA, 56 % on Union3), which only
        added scatter to ln Z.
        """
        lo, hi = self.sampling_bounds[:, 0], self.sampling_bounds[:, 1]
        return lo + np.asarray(u) * (hi - lo)

    def loglike_one(self, theta: np.ndarray) -> float:
        """ln L of a single vector, for dynesty.

        Outside the model's domain (reached only at the edge of a domain
        declared as a box, or anywhere outside one that is not) this is a
        finite floor (−1e8) rather than −inf: dynesty's information and
        evidence-error updates multiply ln L by weights, and 0 × (−inf)
        makes them NaN. The floor is far below any real
        ln L of these data (its weight e^−1e8 is exactly zero), yet small enough
        that those updates keep their precision, which a floor like −1e250
        destroys by cancellation.
        """
        return max(float(self.log_likelihood(theta[None, :])[0]), DYNESTY_FLOOR)

    def prior_centre(self) -> np.ndarray:
        return self.bounds.mean(axis=1)
