"""A posterior piled against a prior edge is reported as a one-sided limit, not as mean ± sd.

Union3 under JANUS piles against the prior's wall q0 = 0 (without it the peak
would be at q0 ≈ +0.035): the real stages (emcee, convergence, summary,
overview) must report q0 > (its 5 % quantile) and flag it. The exact limit is
computed here by scipy.integrate.quad on the likelihood.
"""

import json
import logging
import math

import numpy as np
import pandas as pd
import pytest
from schema_defaults import with_defaults
from scipy.integrate import quad
from scipy.optimize import brentq

from janusfit.diagnostics.bounds import EDGE_RATIO, describe, edge_bound
from janusfit.run import load_run
from janusfit.stages.compare import overview
from janusfit.stages.diagnose import convergence, summary
from janusfit.stages.sample import _sample_emcee

LOG = logging.getLogger("test_bounds")


def config(public_data, dataset):
    files = {
        "union3": {"kind": "sn", "format": "union3", "path": "union3/lcparam_full.txt", "cov": "union3/mag_covmat.txt"},
        "jla": {"kind": "sn", "format": "jla_binned", "path": "jla/jla_mub.txt", "cov": "jla/jla_mub_covmatrix.txt"},
    }[dataset]
    spec = {k: str(public_data / v) if k in ("path", "cov") else v for k, v in files.items()}
    cfg = {"datasets": {dataset: spec}, "models": ["janus"], "samplers": ["emcee"]}
    with_defaults(cfg)
    return cfg


def run_stages(tmp_path, cfg, dataset):
    base = tmp_path / dataset
    base.mkdir()
    _sample_emcee(
        config=cfg,
        dataset=dataset,
        model="janus",
        checkpoint_dir=tmp_path / "ck" / dataset,
        chain_path=base / "chain.h5",
        run_json=base / "run.json",
        log=LOG,
    )
    convergence(
        config=cfg,
        dataset=dataset,
        model="janus",
        chain_h5=base / "chain.h5",
        out_json=base / "convergence.json",
        trace_png=base / "trace.png",
        log=LOG,
    )
    return summary(
        config=cfg,
        dataset=dataset,
        model="janus",
        out_json=base / "summary.json",
        emcee_files=(base / "chain.h5", base / "run.json", base / "convergence.json"),
        log=LOG,
    )


def exact_quantile(posterior, q):
    """The q-quantile of a one-parameter posterior over its sampled box, by quadrature of the likelihood."""
    lo, hi = posterior.sampling_bounds[0]
    peak = float(np.max(posterior.log_likelihood(np.linspace(lo, hi, 4001)[1:, None])))

    def density(x):
        return math.exp(posterior.log_likelihood(np.array([[x]]))[0] - peak)

    total = quad(density, lo, hi, limit=500, epsrel=1e-11)[0]
    return brentq(lambda x: quad(density, lo, x, limit=500, epsrel=1e-11)[0] / total - q, lo + 1e-9, hi - 1e-12)


def test_union3_janus_is_reported_as_a_bound_and_jla_janus_is_not(tmp_path, public_data):
    runs = {}
    for dataset in ("union3", "jla"):
        cfg = config(public_data, dataset)
        runs[dataset] = (run_stages(tmp_path, cfg, dataset), load_run(cfg, dataset, "janus")[1])
    union3, posterior = runs["union3"]
    q0 = union3["parameters"]["q0"]
    assert q0["bound"] == "upper" and q0["edge"] == 0.0 and q0["credibility"] == 0.95
    # emcee's 5 % quantile against the exact one (−0.0220), within the draws' statistical error.
    assert q0["limit"] == pytest.approx(exact_quantile(posterior, 0.05), abs=0.1 * q0["sd"])
    assert q0["text"].startswith(f"> {q0['limit']:.4f} (95 % limit; posterior piled against the upper prior edge 0)")
    jla = runs["jla"][0]["parameters"]["q0"]
    assert jla["bound"] is None and jla["limit"] is None and jla["edge_density_ratio"] < EDGE_RATIO
    assert jla["text"] == f"{jla['mean']:.4f} ± {jla['sd']:.4f}"

    table = overview(
        summary_paths=[tmp_path / "union3/summary.json", tmp_path / "jla/summary.json"],
        out_csv=tmp_path / "overview.csv",
    )
    assert list(table["one-sided limits"]) == ["BOUND: q0: upper prior edge", "none"]
    assert list(table["q0"]) == [q0["text"], jla["text"]]
    assert pd.read_csv(tmp_path / "overview.csv")["q0"].tolist() == list(table["q0"])
    assert json.loads((tmp_path / "union3/summary.json").read_text())["parameters"]["q0"]["bound"] == "upper"


def test_edge_rule_on_gaussians_at_known_distances_from_the_edge():
    """A Gaussian whose mode is d σ inside the edge has density e^(−d²/2) of its peak there."""
    draws = np.random.default_rng(0).normal(size=400_000)
    for d, expected in [(0.0, "lower"), (1.5, "lower"), (2.2, None), (3.0, None)]:
        kept = draws[draws > -d] if d else draws[draws > 0]
        result = edge_bound(kept, -d, 50.0)
        assert result["bound"] == expected, d
    upper = edge_bound(-np.abs(draws), -50.0, 0.0)
    assert upper["bound"] == "upper" and upper["limit"] == pytest.approx(-1.96, abs=0.02)
    lower = edge_bound(np.abs(draws), 0.0, 50.0)
    assert lower["bound"] == "lower" and lower["limit"] == pytest.approx(1.96, abs=0.02)
    assert describe(lower) == f"< {lower['limit']:.4f} (95 % limit; posterior piled against the lower prior edge 0)"
