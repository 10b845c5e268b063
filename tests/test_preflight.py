import csv
import json
import math
import re
import shutil

import numpy as np
import pytest

from janusfit.data.dataset import Dataset
from janusfit.errors import ConfigError, ResourceError
from janusfit.likelihood import Posterior
from janusfit.models import get_model
from janusfit.resources.checks import (
    chain_disk_bytes,
    dynesty_disk_bytes,
    raise_if_failed,
    run_checks,
    write_preflight,
)

Z = np.linspace(0.05, 1.0, 20)


def dataset(values=None):
    """Supernovae on the JANUS Hubble diagram of q0 = -0.2, σ = 0.1 mag."""
    mu = get_model("janus").distance_modulus(np.array([[-0.2]]), Z)[0]
    return Dataset("sn", "sn", Z, mu if values is None else values, sigma=np.full(Z.size, 0.1))


def posterior(model="janus", q0=(-0.4, 0.0), data=None):
    priors = {"q0": q0} if model == "janus" else None
    return Posterior(get_model(model), [data or dataset()], priors=priors)


def run(post, tmp_path, **kw):
    args = dict(
        n_walkers=16,
        estimates_mb={"emcee": 500, "dynesty": 400},
        available_mb=1000,
        disk_needed_bytes=1000,
        out_dir=tmp_path / "out",
        n_draws=32,
    )
    args.update(kw)
    return run_checks(post, **args)


def failed(result):
    return {c["name"]: c["detail"] for c in result["checks"] if not c["passed"]}


def test_all_checks_pass_in_order(tmp_path):
    result = run(posterior("lcdm"), tmp_path)
    assert result["passed"] and failed(result) == {}
    assert [c["name"] for c in result["checks"]] == [
        "data_validated",
        "log_likelihood_at_prior_centre",
        "log_likelihood_at_prior_draws",
        "expansion_rate",
        "n_walkers",
        "disk",
        "memory",
        "out_dir_writable",
    ]
    raise_if_failed(result)
    write_preflight(result, tmp_path / "preflight.json", tmp_path / "preflight.csv")
    assert json.loads((tmp_path / "preflight.json").read_text()) == result
    table = list(csv.reader((tmp_path / "preflight.csv").open()))
    assert table[0] == ["check", "passed", "detail"]
    assert [row[:2] for row in table[1:]] == [[c["name"], "yes"] for c in result["checks"]]
    assert (tmp_path / "out").is_dir() and list((tmp_path / "out").iterdir()) == []


def test_minus_inf_outside_the_janus_domain_is_allowed(tmp_path):
    # z_max = 1: JANUS exists for q0 > -0.5, so part of this prior is outside its domain.
    result = run(posterior(q0=(-0.9, 0.0)), tmp_path, n_draws=64)
    assert result["passed"], failed(result)
    detail = result["checks"][2]["detail"]
    outside = int(detail.split(", ")[1].split()[0])
    assert outside > 0 and "outside the model's domain" in detail


def test_prior_outside_the_whole_domain_fails_naming_the_priors(tmp_path):
    result = run(posterior(q0=(-0.9, -0.6)), tmp_path)
    check = result["checks"][2]
    assert not check["passed"] and check["key"] == "priors.janus"
    assert "the prior (q0 in [-0.9, -0.6]) excludes the whole domain of model 'janus'" in check["detail"]
    with pytest.raises(ConfigError) as info:
        raise_if_failed(result)
    assert info.value.key == "priors.janus" and "Widen or move the prior" in str(info.value)


def test_prior_touching_the_domain_only_at_its_edge_passes(tmp_path):
    # z_max = 1: JANUS needs q0 > -0.5. Of [-0.9, -0.49999] only the top 0.002 % is inside,
    # which no draw hits but the box's corner does: the samplers can still start there.
    result = run(posterior(q0=(-0.9, -0.49999)), tmp_path)
    assert result["passed"], failed(result)
    assert "overlaps the domain only near its edges" in result["checks"][2]["detail"]


def test_nan_fails(tmp_path):
    values = dataset().values.copy()
    values[3] = np.nan
    result = run(posterior("lcdm", data=dataset(values)), tmp_path)
    assert "NaN" in failed(result)["log_likelihood_at_prior_centre"]
    assert "NaN" in failed(result)["log_likelihood_at_prior_draws"]


def test_a_prior_reaching_where_the_model_gives_no_number_names_the_prior(tmp_path):
    # Flat ΛCDM has E² = 1 + Ωm((1+z)³ − 1) < 0 up to z = 1 where Ωm < −1/7.
    post = Posterior(get_model("lcdm"), [dataset()], priors={"Om": (-0.5, 1.0)})
    result = run(post, tmp_path, rng_seed=3)
    check = result["checks"][2]
    draws = -0.5 + np.random.default_rng(3).random(32) * 1.5
    n_defined = int(np.sum(draws > -1 / 7)) + 1  # and the prior's centre, 0.25
    assert not check["passed"] and check["key"] == "priors.lcdm"
    assert "log-likelihood is NaN at Om=" in check["detail"]
    assert (
        f"The prior (Om in [-0.5, 1]) reaches where model 'lcdm' gives no number while {n_defined} of 33"
        in (check["detail"])
    )
    with pytest.raises(ConfigError) as info:
        raise_if_failed(result)
    assert info.value.key == "priors.lcdm"


def test_nan_data_does_not_blame_the_prior(tmp_path):
    values = dataset().values.copy()
    values[3] = np.nan
    check = run(posterior("lcdm", data=dataset(values)), tmp_path)["checks"][2]
    assert not check["passed"] and "key" not in check and "prior" not in check["detail"]


def test_plus_inf_fails(tmp_path):
    post = posterior("lcdm")
    post.norm = -np.inf  # ln L = -(χ² + norm)/2 = +inf
    assert "ln L = inf" in failed(run(post, tmp_path))["log_likelihood_at_prior_centre"]


def test_minus_inf_inside_the_domain_fails(tmp_path):
    post = posterior("lcdm")
    post.norm = np.inf
    assert "-inf inside the model's domain" in failed(run(post, tmp_path))["log_likelihood_at_prior_draws"]


def test_unvalidated_data_fails(tmp_path):
    assert "failed validation" in failed(run(posterior("lcdm"), tmp_path, data_validated=False))["data_validated"]


def test_too_few_walkers_is_a_config_error(tmp_path):
    # One parameter, but emcee's differential-evolution move needs two walkers in each half.
    result = run(posterior("lcdm"), tmp_path, n_walkers=2)
    assert "at least 4" in failed(result)["n_walkers"]
    with pytest.raises(ConfigError) as info:
        raise_if_failed(result)
    assert info.value.key == "emcee.n_walkers"


def test_dynesty_has_no_walker_check(tmp_path):
    result = run(posterior("lcdm"), tmp_path, n_walkers=None)
    assert result["passed"] and "n_walkers" not in [c["name"] for c in result["checks"]]


def test_disk_memory_and_writability_fail_together(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = run(
        posterior("lcdm"),
        tmp_path,
        disk_needed_bytes=10**18,
        estimates_mb={"emcee": 3000, "dynesty": 2500},
        available_mb=2000,
        out_dir=blocker / "out",
    )
    problems = failed(result)
    assert set(problems) == {"disk", "memory", "out_dir_writable"}
    assert "1000000000.00 GB" in problems["disk"] and "emcee.max_steps" in problems["disk"]
    assert "emcee 3000 MB, dynesty 2500 MB" in problems["memory"] and "allows 2000 MB" in problems["memory"]
    assert "Not a directory" in problems["out_dir_writable"]
    with pytest.raises(ResourceError) as info:
        raise_if_failed(result)
    message = str(info.value)
    assert "3 of 8 checks" in message
    for part in ("disk", "memory", "out_dir_writable", "emcee.n_walkers", "dynesty.nlive", str(blocker / "out")):
        assert part in message


def test_memory_names_the_settings_of_the_sampler_that_does_not_fit(tmp_path):
    result = run(
        posterior("lcdm"),
        tmp_path,
        estimates_mb={"emcee": 900, "dynesty": 1200},
        available_mb=1000,
        memory_source="Snakemake's --resources mem_mb",
    )
    detail = failed(result)["memory"]
    assert "Snakemake's --resources mem_mb allows 1000 MB" in detail
    assert "dynesty.nlive (dynesty)" in detail and "emcee.n_walkers" not in detail
    assert list(failed(result)) == ["memory"]
    with pytest.raises(ResourceError, match="dynesty.nlive"):
        raise_if_failed(result)


def test_memory_fits_exactly(tmp_path):
    assert run(posterior("lcdm"), tmp_path, estimates_mb={"emcee": 1000}, available_mb=1000)["passed"]


def test_full_disk_fails(tmp_path):
    free = shutil.disk_usage(tmp_path).free
    detail = failed(run(posterior("lcdm"), tmp_path, disk_needed_bytes=free * 2))["disk"]
    assert f"the run needs {free * 2 / 1e9:.2f} GB" in detail and "free space there" in detail


def test_chain_disk_bytes():
    assert chain_disk_bytes(32, 1000, 2) == math.ceil(2.2 * 32 * 1000 * 3 * 8 + 50_000_000)
    assert chain_disk_bytes(64, 1000, 2) > chain_disk_bytes(32, 1000, 2)


def test_dynesty_disk_bytes():
    # Three pickles of the posterior and the points, plus samples.h5.
    assert dynesty_disk_bytes(3000, 1, 1_500_000) == math.ceil(3 * (1_500_000 + 3000 * 274) + 3000 * 4 * 8 + 50_000_000)
    assert dynesty_disk_bytes(3000, 1, 3_000_000) > dynesty_disk_bytes(3000, 1, 1_500_000)


def test_a_model_that_stops_expanding_inside_the_data_fails_naming_the_prior(tmp_path, scratch_registry):
    """E = 1 + a z reaches zero at z = -1/a: its 1/E integrated across the pole gave finite distances and a
    finite likelihood (an audit's toy model, 426 of 731 grid points), which no check named."""
    from janusfit.models import Model

    class Linear(Model):
        name = "_test_preflight_linear"
        params = ("a",)
        labels = {"a": "$a$"}
        default_priors = {"a": (-1.5, 2.0)}

        def E(self, theta, z):
            return 1.0 + theta[:, :1] * z

    scratch_model = Linear()
    post = Posterior(scratch_model, [dataset()], priors={"a": (-1.5, 2.0)})
    assert np.isfinite(post.log_likelihood(np.array([[-1.2]]))[0])  # what let it through
    check = next(c for c in run(post, tmp_path)["checks"] if c["name"] == "expansion_rate")
    assert not check["passed"] and check["key"] == f"priors.{scratch_model.name}"
    assert f"stops expanding before the deepest datum (z = {Z.max():g})" in check["detail"]
    a = float(check["detail"].split(" for a=")[1].split()[0])
    assert a < -1.0 / Z.max()
    narrowed = Posterior(scratch_model, [dataset()], priors={"a": (-0.9, 2.0)})
    assert next(c for c in run(narrowed, tmp_path)["checks"] if c["name"] == "expansion_rate")["passed"]


def test_a_model_not_normalised_to_e_of_0_equal_1_fails_naming_the_model(tmp_path, scratch_registry):
    """A model of one's own with E² = Ωm(1 + z)³ + 1, the −Ωm forgotten: E(0) = √(1 + Ωm), so its distances
    and H(z) are wrong at every point, yet finite and expanding. Every check passed and the run went on to
    wrong posteriors and evidences."""
    from janusfit.models import Model

    class Unnormalised(Model):
        name = "_test_preflight_unnormalised"
        params = ("Om",)
        labels = {"Om": r"$\Omega_m$"}
        default_priors = {"Om": (0.01, 1.0)}

        def E(self, theta, z):
            return np.sqrt(theta[:, :1] * (1.0 + z) ** 3 + 1.0)

    post = Posterior(Unnormalised(), [dataset()])
    check = next(c for c in run(post, tmp_path)["checks"] if c["name"] == "expansion_rate")
    assert not check["passed"] and check["key"] == "priors._test_preflight_unnormalised"
    e0, om = re.search(
        r"E\(0\) = H\(0\)/H0 is ([0-9.]+), not 1, for Om=([0-9.]+) \(1025 of 1025", check["detail"]
    ).groups()
    assert float(e0) == pytest.approx(math.sqrt(1.0 + float(om)), rel=1e-5)
    assert "a model of your own must give E(0) = 1 (README, 'Adding a model')" in check["detail"]


def test_a_prior_so_wide_that_the_model_cancels_beyond_double_precision_is_named_as_such(tmp_path):
    """Ωm up to 1e30: E²(0) = Ωm + 1 − Ωm is 0 in double precision. The check said flat ΛCDM 'stops expanding
    before the deepest datum', which it does not (E² = Ωm((1 + z)³ − 1) + 1 grows)."""
    post = Posterior(get_model("lcdm"), [dataset()], priors={"Om": (0.01, 1e30)})
    check = next(c for c in run(post, tmp_path)["checks"] if c["name"] == "expansion_rate")
    assert not check["passed"] and check["key"] == "priors.lcdm"
    assert check["detail"].startswith("E(0) = H(0)/H0 is 0, not 1, for Om=5e+29 (1025 of 1025 points of the prior)")
    assert "stops expanding" not in check["detail"]
    sane = Posterior(get_model("lcdm"), [dataset()], priors={"Om": (0.01, 1e3)})
    assert next(c for c in run(sane, tmp_path)["checks"] if c["name"] == "expansion_rate")["passed"]


def test_a_model_that_fails_outright_fails_every_model_check_without_a_traceback(tmp_path, scratch_registry):
    """The expansion check called E unguarded: a model raising in E stopped the pre-flight job with its traceback,
    where the likelihood checks name the error (review)."""
    from janusfit.models import Model

    class Broken(Model):
        name = "_test_preflight_broken"
        params = ("a",)
        labels = {"a": "$a$"}
        default_priors = {"a": (0.0, 1.0)}

        def E(self, theta, z):
            raise ValueError("bug in my model")

    problems = failed(run(Posterior(Broken(), [dataset()]), tmp_path))
    assert problems["expansion_rate"] == "ValueError: bug in my model"
    assert "ValueError: bug in my model" in problems["log_likelihood_at_prior_centre"]
