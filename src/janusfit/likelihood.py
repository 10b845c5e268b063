"""Vectorised log-likelihoods and the posterior that samplers call.

Every evaluation takes a batch of parameter vectors, shape (n_batch, n_params),
so that emcee's vectorised moves and the benchmark's batches cost one pass over
the data rather than one pass per walker.

Supernovae: the absolute magnitude M (with H0) is marginalised analytically
under a flat prior (Conley et al. 2011, ApJS 192, 1, App. C). With
Δ = μ_obs − μ_model, A = ΔᵀC⁻¹Δ, B = Σ(C⁻¹Δ) and E = ΣC⁻¹,

    χ² = A − B²/E + ln(E/2π).

The covariance is factored once (Cholesky, C = LLᵀ); each call is one
triangular solve y = L⁻¹Δ of the batch, then A = |y|², B = uᵀy with u = L⁻¹1.
Diagonal errors are the special case L = diag(σ).

The log-likelihood adds the Gaussian normalisation −½ ln det(2πC) so that
dynesty's evidence is a true (marginal) evidence; it cancels in every model
comparison on the same data.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import cholesky, solve_triangular

from .data.dataset import Dataset
from .errors import LikelihoodError
from .models import Model, RedshiftGrid


class SNLikelihood:
    """χ² of a supernova Hubble diagram with M marginalised analytically."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset
        self.z = dataset.z
        self.zhel = dataset.zhel
        self.mu = dataset.values
        self.grid = RedshiftGrid(dataset.z)
        ones = np.ones_like(self.mu)
        if dataset.has_full_cov:
            self._chol = cholesky(dataset.cov, lower=True)
            self._u = solve_triangular(self._chol, ones, lower=True)
            log_det = 2.0 * np.sum(np.log(np.diag(self._chol)))
        else:
            self._chol = None
            self._inv_sigma = 1.0 / dataset.sigma
            self._u = ones * self._inv_sigma
            log_det = 2.0 * np.sum(np.log(dataset.sigma))
        self._E = float(self._u @ self._u)
        self.norm = log_det + self.mu.size * np.log(2.0 * np.pi)

    def whiten(self, residuals: np.ndarray) -> np.ndarray:
        """L⁻¹Δ for a batch of residual rows, returned as rows."""
        if self._chol is None:
            return residuals * self._inv_sigma
        return solve_triangular(self._chol, residuals.T, lower=True, check_finite=False).T

    def chi2(self, model: Model, theta: np.ndarray) -> np.ndarray:
        mu_model = model.distance_modulus(theta, self.z, self.zhel, grid=self.grid)
        y = self.whiten(self.mu - mu_model)
        a = np.einsum("ij,ij->i", y, y)
        b = y @ self._u
        return a - b * b / self._E + np.log(self._E / (2.0 * np.pi))


class HzLikelihood:
    """Gaussian χ² of H(z) measurements; H0 is a sampled parameter."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset
        self.z = dataset.z
        self.H = dataset.values
        if dataset.has_full_cov:
            self._chol = cholesky(dataset.cov, lower=True)
            log_det = 2.0 * np.sum(np.log(np.diag(self._chol)))
        else:
            self._chol = None
            self._inv_sigma = 1.0 / dataset.sigma
            log_det = 2.0 * np.sum(np.log(dataset.sigma))
        self.norm = log_det + self.H.size * np.log(2.0 * np.pi)

    def chi2(self, model: Model, theta: np.ndarray, H0: np.ndarray) -> np.ndarray:
        r = self.H - model.hubble(theta, self.z, H0)
        if self._chol is None:
            y = r * self._inv_sigma
        else:
            y = solve_triangular(self._chol, r.T, lower=True, check_finite=False).T
        return np.einsum("ij,ij->i", y, y)


H0_PRIOR = (50.0, 100.0)
DYNESTY_FLOOR = -1e8


class Posterior:
    """Flat-prior posterior of one model on one or more datasets (a run).

    The parameter vector is the model's parameters, followed by ``H0`` when a
    dataset constrains it (H(z) data); supernovae alone do not, since H0 is
    degenerate with M. ``priors`` maps parameter names to ``(low, high)``
    overriding the defaults. Instances are picklable, as dynesty's pool needs.
    """

    def __init__(self, model: Model, datasets: list[Dataset], priors: dict | None = None):
        if not datasets:
            raise ValueError("a posterior needs at least one dataset")
        self.model = model
        self.datasets = list(datasets)
        self.sn = [SNLikelihood(d) for d in datasets if d.kind == "sn"]
        self.hz = [HzLikelihood(d) for d in datasets if d.kind == "hz"]
        self.uses_H0 = bool(self.hz)
        self.param_names = tuple(model.params) + (("H0",) if self.uses_H0 else ())
        self.labels = {**model.labels, "H0": r"$H_0$"}
        bounds = {**model.default_priors, "H0": H0_PRIOR}
        for name, lohi in (priors or {}).items():
            if name not in self.param_names:
                raise KeyError(f"prior on '{name}', which is not a parameter of this run ({', '.join(self.param_names)})")
            bounds[name] = tuple(float(v) for v in lohi)
        self.bounds = np.array([bounds[p] for p in self.param_names], dtype=float)
        self.z_max = max(float(d.z.max()) for d in datasets)
        self.n_data = sum(d.n for d in datasets)
        self.norm = sum(l.norm for l in self.sn + self.hz)
        self._n_model = len(model.params)

    @property
    def ndim(self) -> int:
        return len(self.param_names)

    def chi2(self, theta) -> np.ndarray:
        """Total χ² of a batch; +inf outside the model's domain."""
        theta = np.atleast_2d(np.asarray(theta, dtype=float))
        out = np.full(len(theta), np.inf)
        ok = self.model.in_domain(theta[:, : self._n_model], self.z_max)
        if np.any(ok):
            t = theta[ok]
            tm = t[:, : self._n_model]
            total = np.zeros(len(t))
            for like in self.sn:
                total += like.chi2(self.model, tm)
            for like in self.hz:
                total += like.chi2(self.model, tm, t[:, -1])
            out[ok] = total
        return out

    def log_likelihood(self, theta) -> np.ndarray:
        """ln L of a batch: −½(χ² + ln det 2πC), −inf outside the domain.

        NaN is never passed on as −inf: it means a bug or a bad input, and the
        error names the parameter vector that produced it.
        """
        theta = np.atleast_2d(np.asarray(theta, dtype=float))
        logl = -0.5 * (self.chi2(theta) + self.norm)
        bad = np.isnan(logl) | ~np.all(np.isfinite(theta), axis=1)
        if np.any(bad):
            first = theta[np.argmax(bad)]
            values = ", ".join(f"{n}={v:.10g}" for n, v in zip(self.param_names, first))
            raise LikelihoodError(f"log-likelihood is NaN at {values} (model '{self.model.name}')")
        return logl

    def in_prior(self, theta: np.ndarray) -> np.ndarray:
        lo, hi = self.bounds[:, 0], self.bounds[:, 1]
        return np.all((theta >= lo) & (theta <= hi), axis=1)

    def __call__(self, theta) -> np.ndarray:
        """ln posterior (unnormalised) of a batch, for emcee's vectorised moves."""
        theta = np.atleast_2d(np.asarray(theta, dtype=float))
        out = np.full(len(theta), -np.inf)
        ok = self.in_prior(theta)
        if np.any(ok):
            out[ok] = self.log_likelihood(theta[ok])
        return out

    def log_prior_volume(self) -> float:
        return float(np.sum(np.log(self.bounds[:, 1] - self.bounds[:, 0])))

    def prior_transform(self, u: np.ndarray) -> np.ndarray:
        """Unit cube → parameters, for dynesty."""
        lo, hi = self.bounds[:, 0], self.bounds[:, 1]
        return lo + np.asarray(u) * (hi - lo)

    def loglike_one(self, theta: np.ndarray) -> float:
        """ln L of a single vector, for dynesty.

        Outside the model's domain this is a finite floor (−1e8) rather than
        −inf: dynesty's information and evidence-error updates multiply ln L by
        weights, and 0 × (−inf) makes them NaN. The floor is far below any real
        ln L of these data (its weight e^−1e8 is exactly zero), yet small enough
        that those updates keep their precision, which a floor like −1e250
        destroys by cancellation.
        """
        return max(float(self.log_likelihood(theta[None, :])[0]), DYNESTY_FLOOR)

    def prior_centre(self) -> np.ndarray:
        return self.bounds.mean(axis=1)
