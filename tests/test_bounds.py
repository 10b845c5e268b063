"""A posterior cut by a prior edge is reported with GetDist's one-sided limits, not as mean ± sd.

Union3 under JANUS piles against the prior's wall q0 = 0 (without it the peak
would be at q0 ≈ +0.035): the real stages (emcee, convergence, summary,
overview) must report q0 > (its 5 % quantile) and flag it. JLA with the
cosmic chronometers peaks 2 σ inside that wall: its median and 68 % interval
stand, and only its 95 % limit is one-sided. The exact quantiles are computed
here by scipy.integrate.quad on the likelihood.
"""

import html
import json
import logging
import math

import numpy as np
import pandas as pd
import pytest
from schema_defaults import with_defaults
from scipy.integrate import quad
from scipy.optimize import brentq
from scipy.stats import norm

from janusfit.diagnostics.bounds import describe, edge_bound
from janusfit.export.table import table
from janusfit.formatting import decimals
from janusfit.reporting.overview import parameter_rows
from janusfit.run import load_run
from janusfit.stages.compare import overview
from janusfit.stages.diagnose import convergence, summary
from janusfit.stages.sample import _sample_emcee

LOG = logging.getLogger("test_bounds")


FILES = {
    "union3": {"kind": "sn", "format": "union3", "path": "union3/lcparam_full.txt", "cov": "union3/mag_covmat.txt"},
    "jla": {"kind": "sn", "format": "jla_binned", "path": "jla/jla_mub.txt", "cov": "jla/jla_mub_covmatrix.txt"},
    "cc": {"kind": "hz", "format": "hz_table", "path": "cosmic_chronometers/moresco2016_hz.txt"},
}


def config(public_data, dataset):
    parts = dataset.split("+")
    datasets = {
        part: {k: str(public_data / v) if k in ("path", "cov") else v for k, v in FILES[part].items()} for part in parts
    }
    if len(parts) > 1:
        datasets[dataset] = {"combine": parts}
    cfg = {"datasets": datasets, "models": ["janus"], "samplers": ["emcee"]}
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
    assert q0["bound"] == "upper" and q0["piled"] and q0["edge"] == 0.0 and q0["credibility"] == 0.95
    # emcee's 5 % quantile against the exact one (−0.0220), within the draws' statistical error.
    assert q0["limit"] == pytest.approx(exact_quantile(posterior, 0.05), abs=0.1 * q0["sd"])
    assert q0["text"].startswith(f"> {q0['limit']:.4f} (95 % limit; posterior piled against the upper prior edge 0)")
    jla = runs["jla"][0]["parameters"]["q0"]
    assert jla["bound"] is None and jla["limit"] is None and not jla["piled"]
    assert jla["text"] == f"{jla['mean']:.4f} ± {jla['sd']:.4f}"

    table = overview(
        summary_paths=[tmp_path / "union3/summary.json", tmp_path / "jla/summary.json"],
        out_csv=tmp_path / "overview.csv",
    )
    assert list(table["one-sided limits"]) == ["BOUND: q0: upper prior edge", "none"]
    assert list(table["q0"]) == [q0["text"], jla["text"]]
    assert pd.read_csv(tmp_path / "overview.csv")["q0"].tolist() == list(table["q0"])
    assert json.loads((tmp_path / "union3/summary.json").read_text())["parameters"]["q0"]["bound"] == "upper"


def exact_marginal_quantiles(posterior, quantiles, n=1001) -> list[float]:
    """Quantiles of the first parameter's marginal of a two-parameter posterior, on an n × n grid of its box."""
    (lo, hi), (lo2, hi2) = posterior.sampling_bounds
    x, y = np.linspace(lo, hi, n), np.linspace(lo2, hi2, n)
    logl = np.array([posterior.log_likelihood(np.column_stack([np.full(n, xi), y])) for xi in x])
    density = np.trapezoid(np.exp(logl - logl.max()), y, axis=1)
    cdf = np.concatenate([[0.0], np.cumsum((density[1:] + density[:-1]) / 2 * np.diff(x))])
    return [float(np.interp(q, cdf / cdf[-1], x)) for q in quantiles]


def test_a_posterior_peaked_inside_the_edge_keeps_its_median_and_68_interval(tmp_path, public_data):
    """JLA + chronometers under JANUS: mode 2 σ inside q0 = 0, density there about a fifth of the peak.

    Reported before as "q0 > −0.079, piled against the upper prior edge", in overview.csv and
    constraints.tex, where GetDist (68 % and 95 % intervals two-sided), the corner plot and JLA alone
    (−0.066 ± 0.027) give a measurement.
    """
    cfg = config(public_data, "jla+cc")
    result = run_stages(tmp_path, cfg, "jla+cc")
    q0 = result["parameters"]["q0"]
    assert not q0["piled"] and "piled" not in q0["text"]
    exact = exact_marginal_quantiles(load_run(cfg, "jla+cc", "janus")[1], (0.16, 0.5, 0.84))
    assert [q0["q16"], q0["median"], q0["q84"]] == pytest.approx(exact, abs=0.1 * q0["sd"])

    rows = overview(summary_paths=[tmp_path / "jla+cc/summary.json"], out_csv=tmp_path / "overview.csv")
    assert list(rows["one-sided limits"]) in (
        ["none"],
        ["BOUND: q0: upper prior edge (95 % limit; 68 % interval two-sided)"],
    )
    up, down = q0["q84"] - q0["median"], q0["median"] - q0["q16"]
    assert f"$q_0 = {q0['median']:.3f}^{{+{up:.3f}}}_{{-{down:.3f}}}$" in table([result], [])


def test_a_limit_one_sided_at_95_only_is_shown_beside_the_median_and_68_interval():
    """A Gaussian cut 1.2 σ above its mode: two-sided at 68 %, one-sided at 95 %, in every table."""
    draws = np.random.default_rng(0).normal(size=400_000)
    kept = -gaussian_cut_at(1.2, draws)
    q = np.percentile(kept, [2.5, 16, 50, 84, 97.5])
    stats = {
        "mean": kept.mean(),
        "sd": kept.std(),
        "median": q[2],
        "q16": q[1],
        "q84": q[3],
        "q025": q[0],
        "q975": q[4],
    }
    stats |= edge_bound(kept, -50.0, 1.2)
    assert stats["bound"] == "upper" and not stats["piled"]
    assert stats["limit"] == pytest.approx(np.quantile(kept, 0.05))
    up, down = q[3] - q[2], q[2] - q[1]
    assert describe(stats) == (
        f"{q[2]:.4f} +{up:.4f} / -{down:.4f} (68 %), > {stats['limit']:.4f} at 95 % "
        "(the upper prior edge 1.2 is inside the 95 % region)"
    )
    summary = {"dataset": "d", "model": "janus", "n_data": 1, "param_names": ["q0"], "labels": {"q0": "$q_0$"}}
    summary |= {"parameters": {"q0": stats}, "chi2_min": 1.0}
    [[_, median_cell, interval_cell]] = parameter_rows(summary)
    assert html.unescape(median_cell[0]) == f"{q[2]:.2f} {up:+.2f} / {-down:+.2f}"
    assert (
        html.unescape(interval_cell[0])
        == f"q0 > {stats['limit']:.2f} (95 % limit): the upper prior edge 1.2 is inside the 95 % region"
    )
    assert f"$q_0 = {q[2]:.2f}^{{+{up:.2f}}}_{{-{down:.2f}}}$" in table([summary], [])


def gaussian_cut_at(d: float, draws: np.ndarray) -> np.ndarray:
    return draws[draws > -d] if d else draws[draws > 0]


def exactly_one_sided(d: float, credibility: float) -> bool:
    """Whether the edge of N(0, 1) cut at −d lies inside its highest-density region holding ``credibility``.

    That region is [−d, a] ∩ [−a, a]; it reaches the edge when [−d, d] holds no more than ``credibility``.
    """
    inside = (norm.cdf(d) - norm.cdf(-d)) / norm.sf(-d)
    return inside <= credibility


# The thresholds: one-sided at 68 % for d < 0.70, at 95 % for d < 1.67; each distance 0.1 σ or more from them.
DISTANCES = (0.0, 0.4, 0.55, 0.85, 1.2, 1.5, 1.8, 2.2, 3.0)


def test_edge_rule_on_gaussians_at_known_distances_from_the_edge():
    """A Gaussian whose mode is d σ inside the edge: one-sided where its exact highest-density regions say."""
    draws = np.random.default_rng(0).normal(size=400_000)
    for d in DISTANCES:
        result = edge_bound(gaussian_cut_at(d, draws), -d, 50.0)
        assert result["bound"] == ("lower" if exactly_one_sided(d, 0.95) else None), d
        assert result["piled"] == exactly_one_sided(d, 0.68), d
    upper = edge_bound(-np.abs(draws), -50.0, 0.0)
    assert upper["bound"] == "upper" and upper["limit"] == pytest.approx(-1.96, abs=0.02)
    lower = edge_bound(np.abs(draws), 0.0, 50.0)
    assert lower["bound"] == "lower" and lower["limit"] == pytest.approx(1.96, abs=0.02)
    assert describe(lower) == f"< {lower['limit']:.4f} (95 % limit; posterior piled against the lower prior edge 0)"


def test_one_sided_limits_are_the_ones_getdist_gives():
    getdist = pytest.importorskip("getdist")
    draws = np.random.default_rng(1).normal(size=200_000)
    for d in DISTANCES:
        kept = gaussian_cut_at(d, draws)
        samples = getdist.MCSamples(
            samples=kept[:, None], names=["x"], ranges={"x": [-d, None]}, settings={"ignore_rows": 0}
        )
        limits = samples.getMargeStats().parWithName("x").limits
        result = edge_bound(kept, -d, 50.0)
        assert result["piled"] == limits[0].onetail_upper, d
        assert (result["bound"] is not None) == limits[1].onetail_upper, d


def flat_stats(draws: np.ndarray, lo: float, hi: float) -> dict:
    q = np.percentile(draws, [2.5, 16, 50, 84, 97.5])
    moments = {"mean": draws.mean(), "sd": draws.std(), "median": q[2], "q16": q[1], "q84": q[3]}
    return {**moments, "q025": q[0], "q975": q[4], **edge_bound(draws, lo, hi)}


def test_a_flat_posterior_has_no_limit_where_it_had_one_at_the_priors_own_quantile():
    """The audit's case, a prior 1e-10 wide: the posterior is the prior, flat, and was reported as
    '< 0.3000 (95 % limit; posterior piled against the lower prior edge 0.3)', the prior's own 95 % quantile.
    GetDist's limit type for it is "none" (both edges have high probability); so is janusfit's, in every
    table, for flat draws of 20 seeds and of that prior."""
    outcomes = [edge_bound(np.random.default_rng(seed).uniform(size=4000), 0.0, 1.0) for seed in range(20)]
    assert {(o["bound"], o["piled"], o["flat"], o["limit"], o["edge"]) for o in outcomes} == {
        ("both", True, True, None, None)
    }
    draws = 0.3 + np.random.default_rng(0).uniform(size=20_000) * 1e-10
    stats = flat_stats(draws, 0.3, 0.3 + 1e-10)
    assert (stats["bound"], stats["piled"], stats["flat"]) == ("both", True, True)
    assert describe(stats) == "unconstrained within its prior (the posterior is flat over it)"
    summary = {"dataset": "d", "model": "lcdm", "n_data": 1, "param_names": ["Om"], "labels": {"Om": r"$\Omega_m$"}}
    summary |= {"parameters": {"Om": stats}, "chi2_min": 1.0}
    [[_, median_cell, interval_cell]] = parameter_rows(summary)
    assert (median_cell[0], html.unescape(interval_cell[0])) == (
        "unconstrained within its prior",
        "none: its 95 % region reaches both prior edges",
    )
    assert r"$\Omega_m$ unconstrained" in table([summary], [])


def weighted_draws(density, lo: float, hi: float, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Uniform points weighted by ``density``, as dynesty's are by their likelihood (Kish's ESS ≈ 0.7–0.9 n)."""
    x = np.random.default_rng(seed).uniform(lo, hi, n)
    return x, density(x)


def test_a_posterior_that_leans_or_falls_off_is_not_called_unconstrained_from_few_weighted_draws():
    """The second audit's cases, from a15fd99's allowance of 2 standard errors at each edge: with dynesty's
    weighted draws (an effective 700-1000), a unit Gaussian over [-1.5, 1.5] came out "both" in 12 of 20
    seeds, 3 of them "unconstrained", where its exact 95 % region [-1.35, 1.35] reaches neither edge; and a
    posterior leaning to its upper edge (density 0.45 of the peak at the lower, the 95 % level 0.55) was
    "unconstrained" too. Neither is flat, nor rising at both edges."""
    for seed in range(20):
        x, w = weighted_draws(norm.pdf, -1.5, 1.5, 1100, seed)
        gaussian = edge_bound(x, -1.5, 1.5, weights=w)
        x, w = weighted_draws(lambda x: 0.45 + 0.55 * x, 0.0, 1.0, 1100, seed)
        leaning = edge_bound(x, 0.0, 1.0, weights=w)
        assert gaussian["bound"] != "both" and not gaussian["flat"], seed
        assert (leaning["bound"], leaning["flat"]) == ("upper", False), seed


def test_a_posterior_rising_to_both_edges_has_no_limit_within_its_prior(tmp_path):
    """Beta(1/2, 1/2) on [0, 1]: its density is highest at both edges, which any region holding 95 % reaches."""
    draws = np.random.default_rng(2).beta(0.5, 0.5, 40_000)
    stats = flat_stats(draws, 0.0, 1.0)
    assert (stats["bound"], stats["piled"], stats["flat"], stats["limit"]) == ("both", True, False, None)
    assert describe(stats) == "no limit within its prior (its 95 % region reaches both prior edges)"
    path = tmp_path / "summary.json"
    summary = {"dataset": "d", "model": "m", "n_data": 1, "chi2_min": 1.0, "parameters": {"x": stats}}
    summary["parameters"]["x"]["text"] = describe(stats)
    path.write_text(json.dumps(summary))
    row = overview(summary_paths=[path], out_csv=tmp_path / "overview.csv").iloc[0]
    assert row["one-sided limits"] == "BOUND: x: both prior edges (no limit)"


def run_dynesty_stages(tmp_path, cfg, dataset, model):
    """dynesty alone, as ``samplers: [dynesty]`` runs it: the sampling stage, then the summary."""
    from janusfit.stages.sample import _sample_dynesty

    base = tmp_path / dataset / model
    base.mkdir(parents=True)
    _sample_dynesty(
        config=cfg,
        dataset=dataset,
        model=model,
        checkpoint_dir=tmp_path / "ck" / dataset / model,
        samples_path=base / "samples.h5",
        evidence_json=base / "evidence.json",
        log=LOG,
    )
    return summary(
        config=cfg,
        dataset=dataset,
        model=model,
        out_json=base / "summary.json",
        dynesty_json=base / "evidence.json",
        dynesty_samples=base / "samples.h5",
        log=LOG,
    )


def test_dynesty_alone_gives_parameter_estimates_from_its_weighted_samples(tmp_path, public_data):
    """With ``samplers: [dynesty]`` a summary had ln Z and no parameter at all: neither summary.json, nor the
    report, nor overview.csv, nor the LaTeX table gave one. Its weighted samples give them, checked against
    the exact moments and quantiles: ΛCDM's Ωm on JLA binned (two-sided) and JANUS's q0 on Union3 (piled
    against q0 = 0, a one-sided limit)."""
    from janusfit.sampling.dynesty_samples import read_weighted

    summaries = {}
    for dataset, model in (("jla", "lcdm"), ("union3", "janus")):
        cfg = config(public_data, dataset)
        cfg.update(models=[model], samplers=["dynesty"])
        cfg["dynesty"].update(nlive=400)
        summaries[dataset] = (run_dynesty_stages(tmp_path, cfg, dataset, model), load_run(cfg, dataset, model)[1])
    for dataset, (s, posterior) in summaries.items():
        assert s["parameters_from"] == "dynesty's weighted samples" and "emcee" not in s
        _, weights, _ = read_weighted(tmp_path / dataset / s["model"] / "samples.h5")
        kish = 1.0 / np.sum(weights**2)
        (name,) = posterior.param_names
        st, exact = s["parameters"][name], s["quadrature"]["parameters"][name]
        # Within 4 standard errors of the weighted draws (Kish's effective sample size).
        assert st["mean"] == pytest.approx(exact["mean"], abs=4 * exact["sd"] / math.sqrt(kish))
        assert st["sd"] == pytest.approx(exact["sd"], abs=4 * exact["sd"] / math.sqrt(2 * kish))
        assert st["text"] == describe(st)
        # The exact cross-check covers them too: before, it checked ln Z alone.
        checks = {c["what"]: c for c in s["cross_check"]["checks"]}
        assert set(checks) == {"dynesty ln Z", f"dynesty mean of {name}", f"dynesty sd of {name}"}
        assert s["cross_check"]["passed"] and checks[f"dynesty mean of {name}"]["exact"] == exact["mean"]
    jla = summaries["jla"][0]["parameters"]["Om"]
    assert jla["bound"] is None and jla["q16"] < jla["median"] < jla["q84"]
    union3, posterior = summaries["union3"]
    q0 = union3["parameters"]["q0"]
    assert q0["bound"] == "upper" and q0["piled"] and q0["edge"] == 0.0
    assert q0["limit"] == pytest.approx(exact_quantile(posterior, 0.05), abs=0.1 * q0["sd"])

    rows = overview(
        summary_paths=[tmp_path / "jla/lcdm/summary.json", tmp_path / "union3/janus/summary.json"],
        out_csv=tmp_path / "overview.csv",
    )
    assert list(rows["estimates from"]) == ["dynesty's weighted samples"] * 2
    assert list(rows["Om"])[0] == jla["text"] and list(rows["q0"])[1] == q0["text"]
    latex = table([union3], [])
    assert "one-sided limit (dynesty's weighted samples)" in latex
    assert rf"$q_0 > {q0['limit']:.{decimals(q0['sd'])}f}$" in latex
