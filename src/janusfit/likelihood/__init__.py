"""Vectorised log-likelihoods and the posterior that samplers call.

One module per job: ``kernels`` (the compiled hot paths), ``covariance``
(whitening by the Cholesky factor), ``sn`` (supernovae, M marginalised),
``hz`` (H(z) measurements), ``lightcurve`` (SALT2 light curves, α and β
sampled) and ``posterior`` (priors, domain, the batch
interface emcee and dynesty call). A new likelihood family is a new module
beside ``sn`` and ``hz``.
"""

from .covariance import SMALL_SOLVE, Whitening
from .hz import HzLikelihood
from .kernels import LOG10_SCALE
from .lightcurve import LightCurveLikelihood
from .posterior import DYNESTY_FLOOR, H0_PRIOR, Posterior
from .sn import ReducedChi2, SNLikelihood

__all__ = [
    "DYNESTY_FLOOR",
    "H0_PRIOR",
    "LOG10_SCALE",
    "SMALL_SOLVE",
    "HzLikelihood",
    "LightCurveLikelihood",
    "Posterior",
    "ReducedChi2",
    "SNLikelihood",
    "Whitening",
]
