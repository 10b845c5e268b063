"""dynesty's evidence against an exact one: a Gaussian likelihood linear in its parameter."""

import numpy as np
import pytest
from scipy.special import erf

from janusfit.data.dataset import Dataset
from janusfit.likelihood import Posterior
from janusfit.models import MODELS, Model
from janusfit.sampling.dynesty_runner import DynestySettings, run_dynesty
from janusfit.sampling.fingerprint import make_fingerprint
from janusfit.sampling.session import CheckpointSession


class ConstantH(Model):
    """H(z) = H0 at every redshift: the H(z) likelihood is Gaussian in H0.

    Module-level so that dynesty can pickle it into its checkpoint; removed
    from the registry at once so that no other test sees it.
    """

    name = "test_constant_h"
    params = ()
    labels = {}
    default_priors = {}

    def E(self, theta, z):
        return np.ones((len(theta), np.size(z)))


del MODELS["test_constant_h"]


def exact_log_evidence(h, sigma, lo, hi):
    """ln ∫_lo^hi N(h | H0, σ) dH0 / (hi − lo), by completing the square in H0."""
    w = 1.0 / sigma**2
    a, b, c = w.sum(), (w * h).sum(), (w * h * h).sum()
    mean, var = b / a, 1.0 / a
    log_norm = -0.5 * (c - b * b / a) - 0.5 * np.sum(np.log(2 * np.pi * sigma**2))
    mass = 0.5 * (erf((hi - mean) / np.sqrt(2 * var)) - erf((lo - mean) / np.sqrt(2 * var)))
    return log_norm + 0.5 * np.log(2 * np.pi * var) + np.log(mass) - np.log(hi - lo)


def test_logz_matches_exact_value(tmp_path):
    rng = np.random.default_rng(3)
    z = np.linspace(0.1, 2.0, 25)
    sigma = rng.uniform(3.0, 12.0, z.size)
    h = 68.0 + sigma * rng.normal(size=z.size)
    data = Dataset("synthetic_hz", "hz", z, h, sigma=sigma, sha256={"synthetic": "none"})
    posterior = Posterior(ConstantH(), [data])
    settings = DynestySettings(nlive=400, dlogz=0.01, seed=7)
    with CheckpointSession(tmp_path / "ck", make_fingerprint(posterior, "dynesty", settings.chain_settings()),
                           log=lambda m: None) as session:
        result, _ = run_dynesty(posterior, settings, session, log=lambda m: None)
    exact = exact_log_evidence(h, sigma, 50.0, 100.0)
    assert abs(result.logz - exact) < 3 * result.logz_err + 0.05
