"""The reported posterior sd is unbiased: burn-in against the exact sd of JLA binned ΛCDM.

Walkers start spread over the prior (Ωm ∈ [0.01, 1], about 30 posterior sd
wide). With the old burn-in of 2 τ, the draws that followed still carried that
spread and inflated the reported sd by about 1 % on a 1000-step run; the exact
sd, by quadrature, is 0.03378 (test_evidence.py). Averaged over seeds, the
reported sd must be within 0.3 % of it. A run's sd has a statistical error of
about 0.9 % at 1000 steps, so 60 seeds measure the mean to 0.11 %.
"""

import math

import numpy as np
import pytest

from janusfit.data import load_dataset
from janusfit.diagnostics import diagnose
from janusfit.likelihood import Posterior
from janusfit.models import get_model
from janusfit.sampling.emcee_runner import EmceeSettings, run_emcee
from janusfit.sampling.fingerprint import make_fingerprint
from janusfit.sampling.session import CheckpointSession
from janusfit.stages.diagnose import read_chain

EXACT_SD = 0.03378188  # JLA binned, flat ΛCDM, Ωm ∈ [0.01, 1]


@pytest.fixture(scope="module")
def jla_lcdm(public_data) -> Posterior:
    jla = public_data / "jla"
    data = load_dataset(
        "jla",
        {
            "kind": "sn",
            "format": "jla_binned",
            "path": str(jla / "jla_mub.txt"),
            "cov": str(jla / "jla_mub_covmatrix.txt"),
        },
    )
    return Posterior(get_model("lcdm"), [data])


def reported_sd(tmp_path, posterior, settings) -> float:
    """The sd summary.json reports: emcee's draws after the burn-in the convergence rule chooses."""
    directory = tmp_path / f"seed{settings.seed}"
    with CheckpointSession(
        directory / "ck", make_fingerprint(posterior, "emcee", settings.chain_settings()), log=lambda m: None
    ) as session:
        run_emcee(posterior, settings, session, directory / "chain.h5", log=lambda m: None)
    chain, log_prob, accepted = read_chain(directory / "chain.h5")
    burn_in = diagnose(chain, log_prob, accepted, posterior.param_names)["burn_in"]
    return float(np.std(chain[burn_in:].reshape(-1), ddof=1))


def mean_relative_bias(tmp_path, posterior, seeds, **settings) -> tuple[float, float]:
    sds = np.array([reported_sd(tmp_path, posterior, EmceeSettings(n_walkers=32, seed=s, **settings)) for s in seeds])
    relative = sds / EXACT_SD - 1.0
    return float(relative.mean()), float(relative.std(ddof=1) / math.sqrt(len(seeds)))


def test_reported_sd_of_1000_step_runs_is_unbiased(tmp_path, jla_lcdm):
    # The 2 τ burn-in gave +0.92 ± 0.17 % on these seeds.
    bias, error = mean_relative_bias(tmp_path, jla_lcdm, range(60), max_steps=1000, stop_on_convergence=False)
    assert abs(bias) < 0.003, f"sd biased by {100 * bias:+.2f} ± {100 * error:.2f} %"


@pytest.mark.slow
def test_reported_sd_with_the_default_stopping_rule_is_unbiased(tmp_path, jla_lcdm):
    """200 seeds of the default settings (the stopping rule ends runs at 1000–4000 steps)."""
    bias, error = mean_relative_bias(tmp_path, jla_lcdm, range(200), max_steps=20000)
    assert abs(bias) < 0.003, f"sd biased by {100 * bias:+.2f} ± {100 * error:.2f} %"
