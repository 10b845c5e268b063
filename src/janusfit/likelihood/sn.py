"""The supernova likelihood: χ² of a Hubble diagram with the absolute magnitude marginalised.

The absolute magnitude M (with H0) is marginalised analytically under a flat
prior (Conley et al. 2011, ApJS 192, 1, App. C). With Δ = μ_obs − μ_model,
A = ΔᵀC⁻¹Δ, B = Σ(C⁻¹Δ) and E = ΣC⁻¹,

    χ² = A − B²/E + ln(E/2π).

With C = LLᵀ (:class:`~.covariance.Whitening`), a direct evaluation is one
triangular solve y = L⁻¹Δ of the batch, then A = |y|², B = uᵀy with
u = L⁻¹1. Samples with more supernovae than interpolation nodes use the
equivalent reduced form of :class:`ReducedChi2`, whose cost does not grow
with N.
"""

from __future__ import annotations

import numpy as np

from ..data.dataset import Dataset
from ..models import Model, RedshiftGrid
from . import kernels, parallel
from .covariance import Whitening
from .kernels import LOG10_SCALE

KNOT_ORDER, KNOT_PANEL = 24, 1.2  # the reduced form's nodes: one degree-23 panel up to z ≈ 2.3
KNOT_TAIL_TOL = 1e-9  # largest trailing Legendre coefficient of g accepted (≈ 2e-9 mag)


class SNLikelihood:
    """χ² of a supernova Hubble diagram with M marginalised analytically.

    With more supernovae than interpolation nodes (Pantheon-like samples) the
    χ² is evaluated in reduced form (``reduced``, a :class:`ReducedChi2`);
    rows it cannot vouch for, and small samples, take the direct route
    (:meth:`chi2_direct`) through μ at every supernova.

    The terms of the marginalisation are public, for the reduced form and for
    tests that check it: ``u`` = L⁻¹1, ``E`` = uᵀu = ΣC⁻¹, ``log_e`` = ln(E/2π),
    and ``mu_d``, μ_obs less the model's ln(1 + z_hel) term. It samples no
    nuisance parameter (``nuisance``), unlike light-curve data
    (:class:`~janusfit.likelihood.lightcurve.LightCurveLikelihood`).
    """

    nuisance = ()

    def __init__(self, dataset: Dataset):
        self.dataset = dataset
        # Contiguous copies: a strided column (a Dataset built by hand may hold one) would
        # select another compiled variant of the kernels, with other rounding,
        # and a pickled copy of this object would then differ in the last bit.
        self.z = np.ascontiguousarray(dataset.z, dtype=float)
        self.zhel = None if dataset.zhel is None else np.ascontiguousarray(dataset.zhel, dtype=float)
        self.mu = np.ascontiguousarray(dataset.values, dtype=float)
        # Ungraded: 1/E(0) = 1 for every model, so the grading towards z = 0 that
        # integrands vanishing there need would only add nodes.
        self.grid = RedshiftGrid(self.z, graded=False)
        self.errors = Whitening(dataset)
        self.u = self.errors.whiten_columns(np.ones_like(self.mu))
        self.E = float(self.u @ self.u)
        self.log_e = float(np.log(self.E / (2.0 * np.pi)))
        self.norm = self.errors.log_det + self.mu.size * np.log(2.0 * np.pi)
        # μ_obs less the (1 + z_hel) factor of the model's μ, which depends on no parameter.
        self.mu_d = self.mu - LOG10_SCALE * np.log1p(self.z if self.zhel is None else self.zhel)
        knots = RedshiftGrid(self.z, order=KNOT_ORDER, max_panel=KNOT_PANEL, graded=False)
        self.reduced = ReducedChi2(self, knots) if knots.nodes.size < self.mu.size else None

    @property
    def model_grid(self) -> RedshiftGrid:
        """The redshifts the model is evaluated at on the hot path: the reduced form's nodes, else every supernova."""
        return self.grid if self.reduced is None else self.reduced.knots

    def chi2(self, model: Model, theta: np.ndarray) -> np.ndarray:
        if self.reduced is None:
            return self.chi2_direct(model, theta)
        chi2, ok, n_ok = self.reduced(model, theta)
        if n_ok < len(theta):
            chi2[~ok] = self.chi2_direct(model, theta[~ok])
        return chi2

    def log_det_terms(self, nuisance: np.ndarray) -> np.ndarray:
        """What :meth:`chi2` adds to the residuals' χ² per row: ln(E/2π), from integrating out M.

        ``nuisance`` is the batch's (n, 0) nuisance columns (this likelihood has none).
        """
        return np.full(len(nuisance), self.log_e)

    def chi2_direct(self, model: Model, theta: np.ndarray) -> np.ndarray:
        """Through μ at every supernova: the definition, at O(N) + O(N²) per row."""
        log_d = np.log(model.transverse_distance(theta, self.grid))
        out = np.empty(len(theta))
        if self.errors.diagonal:
            kernels.marginal_chi2_diag(log_d, self.mu_d, self.errors.inv_sigma, self.E, self.log_e, out)
        elif self.errors.lt is not None:
            kernels.marginal_chi2_small(log_d, self.mu_d, self.errors.lt, self.u, self.E, self.log_e, out)
        else:
            kernels.residuals(log_d, self.mu_d)
            kernels.marginal_chi2(self.errors.whiten(log_d), self.u, self.E, self.log_e, out)
        return out


class ReducedChi2:
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
        u, e = like.u, like.E
        # Whitened, with the direction of M projected out: Π L⁻¹ G and Π L⁻¹ (μ_obs − μ₀).
        basis = like.errors.whiten_columns(LOG10_SCALE * interp.interpolation_matrix())
        basis -= np.outer(u, u @ basis) / e
        data = like.errors.whiten_columns(like.mu_d - LOG10_SCALE * np.log(like.z))
        data -= u * (u @ data) / e
        self._q = np.ascontiguousarray(basis.T @ basis)
        self._v = 2.0 * (basis.T @ data)
        self._c0 = float(data @ data) + like.log_e

    def __call__(self, model: Model, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
        """χ² of each row, whether the interpolation resolves that row, and how many it resolves."""
        log_d = np.log(model.transverse_distance(theta, self.knots))
        return parallel.kernel(kernels.QUADRATIC_CHI2)(
            log_d, self._log_knots, self._q, self._v, self._c0, self._tail, KNOT_TAIL_TOL
        )
