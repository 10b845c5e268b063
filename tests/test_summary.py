"""The run summary never carries a NaN: a non-number stops the rule, naming the field."""

import json
import math

import pytest

from janusfit.errors import JanusfitError
from janusfit.stages.diagnose import summary


def test_a_nan_evidence_error_stops_the_summary_naming_the_field(tmp_path, shared_data):
    jla = shared_data / "jla"
    config = {"datasets": {"jla": {"kind": "sn", "format": "jla_binned", "path": str(jla / "jla_mub.txt"),
                                   "cov": str(jla / "jla_mub_covmatrix.txt")}},
              "models": ["lcdm"], "samplers": ["dynesty"], "priors": {}, "on_change": "error",
              "emcee": {"n_walkers": None, "max_steps": 100, "seed": 1, "moves": "de",
                        "checkpoint": {"steps": 100, "seconds": 60},
                        "stop": {"enabled": False, "check_every": 50, "n_over_tau": 50, "tau_rel_change": 0.01}},
              "dynesty": {"nlive": 50, "dlogz": 0.5, "method": "static", "bound": "multi", "sample": "auto",
                          "seed": 1, "checkpoint_seconds": 60},
              "convergence": {}}
    evidence = tmp_path / "evidence.json"
    evidence.write_text(json.dumps({"logz": -20.0, "logz_err": math.nan, "n_calls": 1000, "resumes": [],
                                    "information": 0.0, "fingerprint": "0" * 16}))
    out = tmp_path / "summary.json"
    with pytest.raises(JanusfitError, match=r"^summary of run jla/lcdm: 'dynesty\.logz_err' is nan; the summary was "
                                            r"not written"):
        summary(config, "jla", "lcdm", out, dynesty_json=evidence)
    assert not out.exists()
