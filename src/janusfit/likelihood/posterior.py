"""The flat-prior posterior of one model on one or more datasets, as the samplers call it.

Every evaluation takes a batch of parameter vectors, shape (n_batch, n_params),
so that emcee's vectorised moves and the benchmark's batches cost one pass over
the data rather than one pass per walker.

The log-likelihood adds the Gaussian normalisation −½ ln det(2πC) so that
dynesty's evidence is a true (marginal) evidence; it cancels in every model
comparison on the same data. Light-curve data are the exception: there C
depends on α and β, and unless the dataset sets ``log_det_cov`` its
−½ ln det C(α, β) is left out (as Cobaya and CosmoMC do), so their ln Z is
not a normalised evidence and a Bayes factor on them depends on that choice.
"""

from __future__ import annotations

import numpy as np

from ..data.dataset import Dataset
from ..data.lightcurves import NUISANCE_LABELS
from ..errors import LikelihoodError
from ..models import Model
from ..models.base import H0_LABEL
from . import kernels
from .hz import HzLikelihood
from .lightcurve import LightCurveLikelihood
from .sn import SNLikelihood


def _batch(theta) -> np.ndarray:
    theta = np.asarray(theta, dtype=float)
    return theta[None, :] if theta.ndim == 1 else theta


H0_PRIOR = (50.0, 100.0)
DYNESTY_FLOOR = -1e8


class Posterior:
    """Flat-prior posterior of one model on one or more datasets (a run).

    The parameter vector is the model's parameters, followed by ``H0`` when a
    dataset constrains it (H(z) data); supernovae alone do not, since H0 is
    degenerate with M. Then come the datasets' nuisance parameters (α and β
    of light-curve data), with the flat priors their datasets declare.
    ``priors`` maps parameter names to ``(low, high)``
    overriding the defaults. Instances are picklable: dynesty's checkpoints pickle them with the sampler.
    """

    def __init__(self, model: Model, datasets: list[Dataset], priors: dict | None = None):
        if not datasets:
            raise ValueError("a posterior needs at least one dataset")
        self.model = model
        self.datasets = list(datasets)
        self.sn = [
            LightCurveLikelihood.from_dataset(d) if d.light_curves is not None else SNLikelihood(d)
            for d in datasets
            if d.kind == "sn"
        ]
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
        self.labels = {**model.labels, "H0": H0_LABEL, **NUISANCE_LABELS}
        bounds = {**model.default_priors, "H0": H0_PRIOR, **nuisance}
        for name, lohi in (priors or {}).items():
            if name not in self.param_names:
                raise KeyError(
                    f"prior on '{name}', which is not a parameter of this run ({', '.join(self.param_names)})"
                )
            bounds[name] = tuple(float(v) for v in lohi)
        self.bounds = np.array([bounds[p] for p in self.param_names], dtype=float)
        self.z_max = max(float(d.z.max()) for d in datasets)
        self.n_data = sum(d.n for d in datasets)
        self.norm = sum(like.norm for like in self.sn + self.hz)
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
        parts = [
            like.chi2(self.model, tm, theta[:, cols]) if cols else like.chi2(self.model, tm)
            for like, cols in zip(self.sn, self._nuisance_columns)
        ]
        # H0 by name: light curves' α and β follow it in the vector. Looked up
        # per call, so a sampler pickled before this line keeps working.
        parts += [like.chi2(self.model, tm, theta[:, self.param_names.index("H0")]) for like in self.hz]
        total = parts[0]
        for part in parts[1:]:
            total += part
        return total

    def profile_chi2(self, theta) -> np.ndarray:
        """The goodness-of-fit χ² of a batch: the residuals' χ² with the supernova magnitudes at their best values.

        :meth:`chi2` integrates the magnitudes out, which adds ln det(F/2π)
        per supernova dataset (and ln det C(α, β) with ``log_det_cov``): right
        for ln L and ln Z, but not a χ² to read against the number of data
        points. Slower than :meth:`chi2` (light curves in plain numpy); for
        the best fit, not the samplers.
        """
        theta = _batch(theta)
        total = self._chi2(theta)
        for like, cols in zip(self.sn, self._nuisance_columns):
            total = total - like.log_det_terms(theta[:, cols])
        return total

    def log_likelihood(self, theta) -> np.ndarray:
        """ln L of a batch: −½(χ² + ln det 2πC), −inf outside the domain.

        NaN is never passed on as −inf: it means a bug or a bad input, and the
        error names the parameter vector that produced it.
        """
        return self._log_likelihood(_batch(theta))

    def _log_likelihood(self, theta: np.ndarray) -> np.ndarray:
        logl = self._chi2(theta)
        bad = kernels.to_log_likelihood(logl, self.norm, theta)
        if bad >= 0:
            values = ", ".join(f"{n}={v:.10g}" for n, v in zip(self.param_names, theta[bad]))
            raise LikelihoodError(f"log-likelihood is NaN at {values} (model '{self.model.name}')")
        return logl

    def in_prior(self, theta: np.ndarray) -> np.ndarray:
        return kernels.inside(_batch(theta), self.bounds)[0]

    def __call__(self, theta) -> np.ndarray:
        """ln posterior (unnormalised) of a batch, for emcee's vectorised moves."""
        theta = _batch(theta)
        ok, n_inside = kernels.inside(theta, self.bounds)
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
