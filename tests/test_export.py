"""The exports of a finished workflow, each opened with its own library and checked against summary.json.

GetDist reads the text chains (``getdist.loadMCSamples``), ArviZ the
InferenceData file (``arviz.from_netcdf``); their means and intervals must be
those janusfit reports, their ranges the priors, and ArviZ's R̂ of the walker
groups janusfit's own. The workflow's export rule made these files;
``janusfit export`` must make the same from the same run without sampling.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

arviz = pytest.importorskip("arviz")
getdist = pytest.importorskip("getdist")

from janusfit.diagnostics.compare import compare_models  # noqa: E402
from janusfit.diagnostics.convergence import group_walkers  # noqa: E402
from janusfit.export import export_run, export_table  # noqa: E402
from janusfit.export.draws import read_emcee, walker_groups  # noqa: E402
from janusfit.export.inference_data import write_posterior_nc  # noqa: E402
from janusfit.export.run import ExportError  # noqa: E402
from janusfit.export.table import table  # noqa: E402
from janusfit.formatting import decimals  # noqa: E402

MODELS = {"janus": "q0", "lcdm": "Om"}
QUANTILES = {"q025": 0.025, "q16": 0.16, "median": 0.5, "q84": 0.84, "q975": 0.975}


def _run(jla_run, model) -> Path:
    return jla_run / "results" / "jla" / model


def _json(path: Path) -> dict:
    return json.loads(path.read_text())


@pytest.mark.parametrize("model", MODELS)
def test_getdist_reads_the_emcee_chains_with_the_summary_means_intervals_labels_and_priors(jla_run, model):
    base = _run(jla_run, model)
    summary, conv = _json(base / "summary.json"), _json(base / "convergence.json")
    samples = getdist.loadMCSamples(str(base / "export" / "emcee"), settings={"ignore_rows": 0})
    param = MODELS[model]
    stats = summary["parameters"][param]
    assert samples.numrows == conv["n_kept_draws"]
    assert len(samples.getSeparateChains()) == conv["n_groups"] == 4
    assert samples.mean(param) == pytest.approx(stats["mean"], rel=1e-12)
    for key, q in QUANTILES.items():
        # GetDist interpolates its weighted quantiles differently: well below one draw's spacing.
        tail = min(q, 1.0 - q)  # GetDist's limfrac is the fraction in the tail beyond the limit
        assert samples.confidence(param, tail, upper=q > 0.5) == pytest.approx(stats[key], abs=1e-3 * stats["sd"])
    label = {"q0": "q_0", "Om": r"\Omega_m"}[param]
    assert samples.paramNames.parWithName(param).label == label
    low, high = summary["priors"][param]
    assert (samples.ranges.getLower(param), samples.ranges.getUpper(param)) == (low, high)
    # Column 2 is −ln posterior: the best row is emcee's best ln p.
    with h5py.File(base / "emcee" / "chain.h5") as f:
        best = np.max(f["mcmc/log_prob"][conv["burn_in"] :])
    assert -samples.loglikes.min() == pytest.approx(best, rel=1e-12)


@pytest.mark.parametrize("model", MODELS)
def test_getdist_reads_dynesty_as_its_own_weighted_root(jla_run, model):
    base = _run(jla_run, model)
    param = MODELS[model]
    samples = getdist.loadMCSamples(str(base / "export" / "dynesty"), settings={"ignore_rows": 0})
    with h5py.File(base / "dynesty" / "samples.h5") as f:
        weights, values = f["weights"][:], f["samples"][:, 0]
    assert samples.mean(param) == pytest.approx(np.sum(weights * values) / np.sum(weights), rel=1e-10)
    stats = _json(base / "summary.json")["parameters"][param]
    assert abs(samples.mean(param) - stats["mean"]) < 0.2 * stats["sd"]
    assert samples.std(param) == pytest.approx(stats["sd"], rel=0.15)


@pytest.mark.parametrize("model", MODELS)
def test_arviz_reads_posterior_nc_with_walker_groups_as_chains(jla_run, model):
    base = _run(jla_run, model)
    summary, conv = _json(base / "summary.json"), _json(base / "convergence.json")
    param = MODELS[model]
    idata = arviz.from_netcdf(str(base / "export" / "posterior.nc"))
    values = idata.posterior[param].values
    assert values.shape == (conv["n_groups"], conv["n_kept_draws"] // conv["n_groups"])
    stats = summary["parameters"][param]
    assert values.mean() == pytest.approx(stats["mean"], rel=1e-12)
    for key, q in QUANTILES.items():
        assert np.quantile(values, q) == pytest.approx(stats[key], rel=1e-12)
    # The groups are janusfit's: ArviZ's rank-normalised split R̂ is janusfit's
    # (exactly when the kept steps split evenly; a middle step otherwise moves
    # a few draws between halves), and its ESS within 5 % of janusfit's (about the group's mean alike).
    ours = conv["parameters"][param]
    tolerance = 1e-12 if conv["n_kept_steps"] % 2 == 0 else 1e-4
    assert float(arviz.rhat(idata)[param]) == pytest.approx(ours["rhat"], abs=tolerance)
    assert float(arviz.ess(idata)[param]) == pytest.approx(ours["ess_bulk"], rel=0.05)
    assert float(arviz.ess(idata, method="tail")[param]) == pytest.approx(ours["ess_tail"], rel=0.05)
    # ln p of each draw is the one emcee recorded at that step and walker.
    stats_group = idata.sample_stats
    with h5py.File(base / "emcee" / "chain.h5") as f:
        log_prob, chain = f["mcmc/log_prob"][:], f["mcmc/chain"][:, :, 0]
    step, walker = stats_group["emcee_step"].values, stats_group["emcee_walker"].values
    np.testing.assert_array_equal(stats_group["lp"].values, log_prob[step, walker])
    np.testing.assert_array_equal(values, chain[step, walker])
    assert step.min() == conv["burn_in"]
    attrs = idata.attrs
    assert attrs["burn_in"] == conv["burn_in"] and attrs["fingerprint"] == summary["fingerprint"]
    assert attrs["convergence_passed"] == int(conv["passed"])
    assert attrs["converged"] == int(summary["emcee"]["converged"])
    assert attrs[f"rhat_{param}"] == ours["rhat"] and json.loads(attrs["convergence_json"]) == conv


def test_latex_table_has_every_constraint_and_bayes_factor(jla_run):
    tex = (jla_run / "results" / "jla" / "constraints.tex").read_text()
    janus = _json(_run(jla_run, "janus") / "summary.json")
    lcdm = _json(_run(jla_run, "lcdm") / "summary.json")
    (row,) = _json(jla_run / "results" / "jla" / "comparison.json")
    om = lcdm["parameters"]["Om"]
    up, down = om["q84"] - om["median"], om["median"] - om["q16"]
    assert f"$\\Omega_m = {om['median']:.3f}^{{+{up:.3f}}}_{{-{down:.3f}}}$" in tex  # errors ~0.03: 3 decimals
    z, dz = janus["dynesty"]["logz"], janus["dynesty"]["logz_err"]
    d = decimals(dz)  # two significant digits of the error
    assert "JANUS & $q_0 = " in tex and f"{janus['chi2_min']:.1f} & ${z:.{d}f} \\pm {dz:.{d}f}$ \\\\" in tex
    assert "$\\ln B$(JANUS : flat $\\Lambda$CDM)" in tex and row["evidence"] in tex
    body = tex[tex.index(r"\begin{tabular}") : tex.index(r"\end{tabular}")]
    assert body.count("{") == body.count("}")
    rows = [line for line in body.splitlines() if line.endswith(r"\\") and "multicolumn" not in line]
    assert len(rows) == 3 and all(line.count("&") == 3 for line in rows)


def test_latex_table_writes_a_models_latex_name_as_latex_and_a_bare_name_escaped(scratch_registry):
    """A latex_name with subscripts ($w_0w_a$CDM) came out with its underscores escaped, as text (audit)."""
    from janusfit.models import Model

    class W0Wa(Model):
        name = "_w0wa_export"
        params = ("w0",)
        labels = {"w0": "$w_0$"}
        default_priors = {"w0": (-2.0, 0.0)}
        latex_name = r"$w_0w_a$CDM"

    rows = [
        {"dataset": "d", "model": m, "n_data": 3, "param_names": [], "chi2_min": 1.0} for m in (W0Wa.name, "my_model")
    ]
    tex = table(rows, [])
    assert "\n$w_0w_a$CDM & -- & 1.0 & -- \\\\" in tex
    assert "\nmy\\_model & -- & 1.0 & -- \\\\" in tex


def test_latex_table_gives_a_posterior_piled_against_a_prior_edge_as_a_limit():
    """Union3 JANUS: q0 piled against q0 = 0 is a lower limit, not the median of the edge."""
    q0 = {
        "mean": -0.0079,
        "sd": 0.0070,
        "median": -0.0062,
        "q16": -0.0152,
        "q84": -0.0014,
        "q025": -0.0260,
        "q975": -0.0002,
        "bound": "upper",
        "edge": 0.0,
        "limit": -0.0220,
        "credibility": 0.95,
    }
    summary = {
        "dataset": "union3",
        "model": "janus",
        "n_data": 22,
        "param_names": ["q0"],
        "labels": {"q0": "$q_0$"},
        "parameters": {"q0": q0},
        "chi2_min": 26.1,
        "dynesty": {"logz": 29.19, "logz_err": 0.06},
    }
    tex = table([summary], [])
    assert "$q_0 > -0.0220$ (95\\,\\%)" in tex
    assert "-0.0062" not in tex


def test_latex_table_marks_an_unconverged_posterior_and_an_incomplete_evidence_and_gives_no_verdict(jla_run):
    """The JLA run's summaries as summary.json records an unconverged emcee (JANUS) and a dynesty stopped by
    maxiter (ΛCDM): what the report flags, the table flags too, and the Bayes factor gives no verdict."""
    janus, lcdm = (_json(_run(jla_run, m) / "summary.json") for m in ("janus", "lcdm"))
    janus["emcee"] = {**janus["emcee"], "converged": False}
    lcdm["dynesty"] = {**lcdm["dynesty"], "complete": False}
    rows = compare_models([janus, lcdm])
    assert rows[0]["incomplete"] == "lcdm"
    tex = table([janus, lcdm], rows)
    lines = tex.splitlines()
    (janus_row,) = [line for line in lines if line.startswith("JANUS &")]
    (lcdm_row,) = [line for line in lines if line.startswith(r"flat $\Lambda$CDM &")]
    assert r"\textbf{(not converged)} &" in janus_row and "(incomplete)" not in janus_row
    assert lcdm_row.endswith(r"\textbf{(incomplete)} \\") and "not converged" not in lcdm_row
    (bayes,) = [line for line in lines if r"\ln B$(" in line]
    assert r"incomplete $\ln Z$ of flat $\Lambda$CDM: no verdict" in bayes and rows[0]["evidence"] not in bayes
    assert sum(line.startswith("% WARNING: ") for line in lines) == 2
    body = tex[tex.index(r"\begin{tabular}") : tex.index(r"\end{tabular}")]
    assert body.count("{") == body.count("}")
    finished = (jla_run / "results" / "jla" / "constraints.tex").read_text()
    assert "WARNING" not in finished and "textbf" not in finished and "no verdict" not in finished


@pytest.mark.parametrize("n_walkers, n_groups", [(32, 4), (34, 4), (36, 8), (3, 4), (50, 3), (8, 8)])
def test_exports_group_walkers_as_the_convergence_checks_do(n_walkers, n_groups):
    checks = group_walkers(np.arange(n_walkers, dtype=float)[None, :], n_groups)
    ours = walker_groups(n_walkers, n_groups)
    assert [g[0].astype(int).tolist() for g in checks] == [g.tolist() for g in ours]


def test_unequal_walker_groups_and_thinning(jla_run, tmp_path):
    """34 walkers in 4 groups (9, 9, 8, 8): posterior.nc takes 2 equal groups of 17; a draw cap thins by steps."""
    chain_h5 = tmp_path / "chain.h5"
    with h5py.File(_run(jla_run, "lcdm") / "emcee" / "chain.h5") as src, h5py.File(chain_h5, "w") as dst:
        dst["mcmc/chain"] = np.concatenate([src["mcmc/chain"][:], src["mcmc/chain"][:, :2]], axis=1)
        dst["mcmc/log_prob"] = np.concatenate([src["mcmc/log_prob"][:], src["mcmc/log_prob"][:, :2]], axis=1)
        n_steps = src["mcmc/chain"].shape[0]
    cap = (n_steps - 10) * 34 // 3 + 1  # every 2nd step would still be too many draws, every 3rd is not
    draws = read_emcee(chain_h5, burn_in=10, n_groups=4, max_draws=cap)
    assert draws.thin == 3 and list(draws.steps[:3]) == [10, 13, 16] and draws.log_prob.size <= cap
    assert [len(g) for g in draws.groups] == [9, 9, 8, 8]
    nc = tmp_path / "posterior.nc"
    assert write_posterior_nc(nc, draws, ["Om"], {"burn_in": 10}) == 2
    idata = arviz.from_netcdf(str(nc))
    assert idata.posterior["Om"].shape == (2, len(draws.steps) * 17)
    assert json.loads(idata.attrs["walker_groups"]) == [list(range(17)), list(range(17, 34))]
    np.testing.assert_array_equal(np.sort(idata.posterior["Om"].values.ravel()), np.sort(draws.chain.ravel()))


def test_latex_table_leaves_out_pairs_of_models_it_has_no_row_for(jla_run, tmp_path):
    """A comparison.json left by an earlier config (here comparing janus with a wcdm run) adds no stale line."""
    (row,) = _json(jla_run / "results/jla/comparison.json")
    stale = tmp_path / "comparison.json"
    stale.write_text(json.dumps([row, {**row, "model_b": "wcdm"}]))
    lcdm_only = export_table([_run(jla_run, "lcdm") / "summary.json"], stale, tmp_path / "lcdm.tex").read_text()
    assert r"\ln B" not in lcdm_only and r"flat $\Lambda$CDM & $\Omega_m" in lcdm_only
    both = export_table([_run(jla_run, m) / "summary.json" for m in MODELS], stale, tmp_path / "both.tex").read_text()
    assert both.count(r"\ln B$(") == 1 and "wCDM" not in both
    assert both == (jla_run / "results/jla/constraints.tex").read_text()


def test_export_manifest_and_no_import_of_arviz_or_getdist(jla_run, tmp_path):
    """Writing a run's exports imports neither ArviZ, xarray nor GetDist, nor the samplers' heavy dependencies.

    A fresh process, so nothing is preloaded: start-up time is counted in imports.
    """
    run_dir = tmp_path / "lcdm"
    shutil.copytree(_run(jla_run, "lcdm"), run_dir, ignore=shutil.ignore_patterns("export"))
    code = (
        "import sys; from janusfit.export import export_run; export_run(sys.argv[1]); "
        "print(sorted(m for m in ('arviz', 'xarray', 'getdist', 'corner', 'snakemake', 'emcee', 'scipy.stats', "
        "'numba') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code, str(run_dir)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    manifest = _json(run_dir / "export" / "export.json")
    assert manifest["emcee"]["thin"] == 1
    assert manifest["emcee"]["burn_in"] == _json(run_dir / "convergence.json")["burn_in"]


def test_janusfit_export_command_writes_what_the_rule_wrote(jla_run, tmp_path, janusfit_cli):
    root = tmp_path / "results"
    shutil.copytree(
        jla_run / "results", root, ignore=shutil.ignore_patterns("export", "constraints.tex", "checkpoints")
    )
    done = janusfit_cli("export", root)
    assert done.returncode == 0, done.stderr
    assert "jla/lcdm: 11 files" in done.stdout and str(root / "jla" / "constraints.tex") in done.stdout
    for model in MODELS:
        ours, rules = root / "jla" / model / "export", _run(jla_run, model) / "export"
        for name in ("emcee.1.txt", "emcee.4.txt", "emcee.paramnames", "emcee.ranges", "dynesty.1.txt"):
            assert (ours / name).read_bytes() == (rules / name).read_bytes(), name
        a, b = arviz.from_netcdf(str(ours / "posterior.nc")), arviz.from_netcdf(str(rules / "posterior.nc"))
        assert a.posterior.equals(b.posterior) and a.sample_stats.equals(b.sample_stats)
    assert (root / "jla" / "constraints.tex").read_text() == (jla_run / "results/jla/constraints.tex").read_text()


def test_janusfit_export_leaves_out_runs_the_config_no_longer_has(jla_run, tmp_path, janusfit_cli):
    """JANUS dropped from the config and the workflow rerun: its old run stays on disk, out of the overview."""
    root = tmp_path / "results"
    shutil.copytree(jla_run / "results", root, ignore=shutil.ignore_patterns("export", "checkpoints"))
    overview = (root / "overview.csv").read_text().splitlines()
    (root / "overview.csv").write_text("\n".join(line for line in overview if ",janus," not in line) + "\n")
    done = janusfit_cli("export", root)
    assert done.returncode == 0, done.stderr
    assert "jla/janus: not exported: not in overview.csv, a run the config no longer has" in done.stdout
    assert not (root / "jla" / "janus" / "export").exists()
    assert (root / "jla" / "lcdm" / "export" / "emcee.1.txt").exists()
    # what the workflow's export_table writes for models: [lcdm]: no JANUS row, no Bayes factor
    lcdm = _json(root / "jla" / "lcdm" / "summary.json")
    assert (root / "jla" / "constraints.tex").read_text() == table([lcdm], [])


def test_janusfit_export_leaves_out_runs_whose_samples_changed_since_their_summary(jla_run, tmp_path, janusfit_cli):
    """A rerun stopped after the sampler: ΛCDM's chain newer than its summary, JANUS's removed by Snakemake.
    ΛCDM was exported from the new chain with the old summary's burn-in, and tabled with the old numbers, as
    if done; JANUS stopped the command with a traceback (FileNotFoundError)."""
    root = tmp_path / "results"
    shutil.copytree(
        jla_run / "results", root, ignore=shutil.ignore_patterns("export", "constraints.tex", "checkpoints")
    )
    chain = root / "jla/lcdm/emcee/chain.h5"
    later = (root / "jla/lcdm/summary.json").stat().st_mtime + 60
    os.utime(chain, (later, later))
    done = janusfit_cli("export", root)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert "jla/lcdm: not exported: interrupted, its summary is of earlier results" in done.stdout
    assert "jla/janus: 11 files" in done.stdout
    assert "jla: constraints.tex not written: jla/lcdm not done; finish the workflow (snakemake)" in done.stdout
    assert not (root / "jla/lcdm/export").exists() and not (root / "jla/constraints.tex").exists()
    (root / "jla/janus/emcee/chain.h5").unlink()
    done = janusfit_cli("export", root)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert "jla/janus: not exported: interrupted" in done.stdout
    assert "has no finished run (no '<dataset>/<model>/summary.json', or none of them done)" in done.stderr


def test_janusfit_export_refuses_an_overview_without_its_run_columns(jla_run, tmp_path, janusfit_cli):
    root = tmp_path / "results"
    shutil.copytree(jla_run / "results", root, ignore=shutil.ignore_patterns("export", "checkpoints"))
    (root / "overview.csv").write_text("not,a,table\n1,2,3\n")
    done = janusfit_cli("export", root)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip() == (
        f"janusfit export: '{root / 'overview.csv'}' has no 'dataset' and 'model' columns, so it does not say "
        "which runs are the workflow's; rerun snakemake to rewrite it, or delete it to export every finished run"
    )
    assert not (root / "jla" / "lcdm" / "export").exists()


def test_exporting_again_leaves_no_file_of_an_earlier_export(jla_run, tmp_path):
    """Exported with 8 walker groups, then with the run's 4 and without dynesty: GetDist reads the 4 chains only."""
    run_dir = tmp_path / "lcdm"
    shutil.copytree(_run(jla_run, "lcdm"), run_dir, ignore=shutil.ignore_patterns("export"))
    conv_path, summary_path = run_dir / "convergence.json", run_dir / "summary.json"
    conv, summary = _json(conv_path), _json(summary_path)
    (run_dir / "export").mkdir()
    (run_dir / "export" / "notes.txt").write_text("the user's own")
    conv_path.write_text(json.dumps({**conv, "n_groups": 8}))
    export_run(run_dir)
    assert (run_dir / "export" / "emcee.8.txt").exists() and (run_dir / "export" / "dynesty.1.txt").exists()
    conv_path.write_text(json.dumps(conv))
    summary_path.write_text(json.dumps({k: v for k, v in summary.items() if k != "dynesty"}))
    written = export_run(run_dir)
    names = sorted(p.name for p in (run_dir / "export").iterdir())
    assert names == sorted([p.name for p in written] + ["notes.txt"])
    assert not any(n.startswith("dynesty") for n in names) and "emcee.5.txt" not in names
    manifest = _json(run_dir / "export" / "export.json")
    samples = getdist.loadMCSamples(str(run_dir / "export" / "emcee"), settings={"ignore_rows": 0})
    assert len(samples.getSeparateChains()) == manifest["emcee"]["chains"] == conv["n_groups"] == 4
    assert samples.numrows == manifest["emcee"]["draws"] == conv["n_kept_draws"]
    assert manifest["emcee"]["converged"] == summary["emcee"]["converged"] and "dynesty" not in manifest


def test_summary_without_priors_is_refused_naming_the_file(jla_run, tmp_path):
    run_dir = tmp_path / "lcdm"
    shutil.copytree(_run(jla_run, "lcdm"), run_dir, ignore=shutil.ignore_patterns("export"))
    summary = _json(run_dir / "summary.json")
    del summary["priors"]
    (run_dir / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(ExportError, match=r"summary.json' has no 'priors' .* 'snakemake --forcerun summary'"):
        export_run(run_dir)
    assert not (run_dir / "export").exists()


def test_janusfit_export_on_a_directory_that_is_not_a_results_root(tmp_path, janusfit_cli):
    (tmp_path / "notes.txt").write_text("not results")
    done = janusfit_cli("export", tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith(f"janusfit export: '{tmp_path}' is not the results directory of a janusfit workflow")


def test_h0_is_given_with_its_unit_in_the_latex_table_and_the_report():
    """The audit's remark: H0's km/s/Mpc appeared on the Hubble diagram's axis alone."""
    from janusfit.export.table import _constraint
    from janusfit.reporting.overview import parameter_rows

    stats = {"median": 68.1, "q84": 69.9, "q16": 66.3, "q025": 64.6, "q975": 71.7, "sd": 1.8}
    assert _constraint("H0", r"$H_0$", stats) == r"$H_0 = 68.1^{+1.8}_{-1.8}\,\mathrm{km\,s^{-1}\,Mpc^{-1}}$"
    assert _constraint("Om", r"$\Omega_m$", {**stats, "median": 0.31}).endswith("}$")
    (row,) = parameter_rows({"parameters": {"H0": stats}})
    assert row[0] == "H0 [km/s/Mpc]"
