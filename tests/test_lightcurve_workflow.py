"""The real workflow on JLA's 740 light curves, α and β free, with the default settings (slow).

    python -m pytest -m slow tests/test_lightcurve_workflow.py

Statistical errors only, both models, both samplers: α and β come out within
2σ of Betoule et al. 2014's full fit (α = 0.141 ± 0.006, β = 3.101 ± 0.075,
A&A 568, A22), every convergence check passes, the summary, overview and
comparison carry α and β, and the evidence is over all three parameters.
"""

from __future__ import annotations

import csv
import json

import pytest
from release_configs import jla_light_curves
from snakemake_runner import run, write_config

BETOULE = {"alpha": (0.141, 0.006), "beta": (3.101, 0.075)}


@pytest.mark.slow
def test_jla740_alpha_beta_free_reproduce_betoule_2014_and_converge(tmp_path, public_data):
    write_config(
        tmp_path,
        public_data,
        models=["janus", "lcdm"],
        run_datasets=["jla740"],
        datasets={"jla740": jla_light_curves(public_data)},
    )
    run(tmp_path, timeout=3600)
    results = tmp_path / "results"
    for model, params in (("janus", ["q0", "alpha", "beta"]), ("lcdm", ["Om", "alpha", "beta"])):
        summary = json.loads((results / "jla740" / model / "summary.json").read_text())
        assert summary["param_names"] == params
        assert summary["emcee"]["converged"], summary["emcee"]["convergence_failures"]
        assert summary["emcee"]["convergence_failures"] == []
        for name, (value, sigma) in BETOULE.items():
            assert abs(summary["parameters"][name]["mean"] - value) < 2 * sigma, (
                model,
                name,
                summary["parameters"][name],
            )
        assert summary["quadrature"] is None  # three parameters: no exact cross-check, and it says so below
    overview = list(csv.DictReader((results / "overview.csv").open()))
    assert {row["exact cross-check"] for row in overview} == {"not available (more than 2 parameters)"}
    assert all(row["alpha"] and row["beta"] for row in overview)
    comparison = json.loads((results / "jla740" / "comparison.json").read_text())
    assert comparison
