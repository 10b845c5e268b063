"""janusfit's own source is an input of its results: the digests that make an edit rerun and refuse a resume.

The edits are made to a copy of the package (``janusfit.code.ROOT`` pointed
at it), so the tests change real source files without touching the one
being tested.
"""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

import pytest
from test_checkpoint_store import Log, jla_diagonal, run_emcee_in

import janusfit
from janusfit import code
from janusfit.errors import FingerprintError
from janusfit.likelihood import Posterior
from janusfit.models import get_model
from janusfit.sampling.fingerprint import SAME_VALUES, check_fingerprint, make_fingerprint, same_values

# Ω_Λ = 1 − 1.0000001 Ωm: another E(z), by a hair
LCDM_EDIT = ("1.0 - om[b]", "1.0 - 1.0000001 * om[b]")
SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


@pytest.fixture
def package(tmp_path, monkeypatch) -> Path:
    """A copy of the janusfit package whose source the digests read."""
    copy = tmp_path / "janusfit"
    shutil.copytree(Path(janusfit.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(code, "ROOT", copy)
    forget()
    yield copy
    forget()


def forget() -> None:
    """Drop the digests computed so far: the source they were read from changed."""
    for cached in (code._scan, code.module_digest, code.value_digest, code._script_modules):
        cached.cache_clear()


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} is not once in {path}"
    path.write_text(text.replace(old, new))
    forget()


def test_an_edited_model_changes_its_posterior_code_at_that_module_only(package):
    lcdm, janus = code.posterior_code("janusfit.models.lcdm"), code.posterior_code("janusfit.models.janus")
    assert {"janusfit.models.lcdm", "janusfit.likelihood.posterior", "janusfit.likelihood.sn"} <= set(lcdm)
    assert "janusfit.models.janus" not in lcdm and "janusfit.errors" not in lcdm
    edit(package / "models/lcdm.py", *LCDM_EDIT)
    edited = code.posterior_code("janusfit.models.lcdm")
    assert [m for m in lcdm if lcdm[m] != edited[m]] == ["janusfit.models.lcdm"]
    assert code.posterior_code("janusfit.models.janus") == janus


@pytest.mark.parametrize(
    "module", ["janusfit.likelihood.sn", "janusfit.models.janus", "janusfit.sampling.emcee_runner"]
)
def test_comments_docstrings_and_layout_change_no_digest(package, module):
    path = code.module_file(module)
    before = code.module_digest(module)
    tree = ast.parse(path.read_text())
    tree.body[0].value.value = "Another module docstring."
    # ast.unparse drops every comment and lays the code out afresh.
    path.write_text("# a comment\n" + ast.unparse(tree).replace("\n\n", "\n\n\n"))
    forget()
    assert code.module_digest(module) == before


def test_imports_are_followed_into_function_bodies_and_named_modules(package):
    # stages.sample imports the likelihood's threads inside a function; the registry names modules in strings.
    assert "janusfit.likelihood.parallel" in code.closure(["janusfit.stages.sample"])
    assert "janusfit.stages.preflight" in code.closure(["janusfit.sampling.registry"])


def test_a_rule_script_takes_in_the_models_it_is_given_and_no_other(package):
    script = SCRIPTS / "sample_emcee.py"
    lcdm = code.script_code(script, models=["janusfit.models.lcdm"])
    janus = code.script_code(script, models=["janusfit.models.janus"])
    edit(package / "models/lcdm.py", *LCDM_EDIT)
    assert code.script_code(script, models=["janusfit.models.lcdm"]) != lcdm
    assert code.script_code(script, models=["janusfit.models.janus"]) == janus


@pytest.mark.parametrize("script", ["sample_emcee", "sample_dynesty", "preflight", "summarize", "export_run"])
def test_an_edit_of_janus_reruns_no_job_of_another_model(package, script):
    """The audit's case: SAME_VALUES names "janusfit.models.janus" in a string, read as an import of
    the fingerprint's module, so an edit of JANUS reran ΛCDM's pre-flight, samplers, summary and exports.
    Only "module:function", as the sampler registry writes it, names a module that is called."""
    path = SCRIPTS / f"{script}.py"
    lcdm = code.script_code(path, models=["janusfit.models.lcdm"])
    edit(package / "models/janus.py", "\nclass Janus(", "\nEDITED = True\n\n\nclass Janus(")
    assert code.script_code(path, models=["janusfit.models.lcdm"]) == lcdm


def test_a_figure_edit_reruns_the_data_figure_and_neither_the_simulation_nor_the_inspection(package):
    """Before, simulate_data's and inspect_data's scripts reached the plots (inspect_data drew data.png):
    an edit of a figure rewrote the default data and data.json, and every job after them reran, the
    samplers too. A sampler's module is not among their inputs either."""
    simulate, inspect, figure = (SCRIPTS / f"{name}.py" for name in ("simulate_data", "inspect_data", "data_figure"))
    before = code.script_code(simulate, models=["janusfit.models.lcdm"]), code.script_code(inspect)
    drawn = code.script_code(figure)
    edit(package / "plots.py", "\nEMCEE_COLOUR = ", "\nEDITED = True\nEMCEE_COLOUR = ")
    edit(package / "sampling/emcee_runner.py", "\ndef run_emcee(", "\nEDITED = True\n\n\ndef run_emcee(")
    assert (code.script_code(simulate, models=["janusfit.models.lcdm"]), code.script_code(inspect)) == before
    assert code.script_code(figure) != drawn
    # The data's jobs read the config, which must not reach the likelihood: its edit would rerun every job.
    drawn = code.script_code(figure)
    edit(package / "likelihood/posterior.py", "\nDYNESTY_FLOOR = ", "\nEDITED = True\nDYNESTY_FLOOR = ")
    assert (code.script_code(simulate, models=["janusfit.models.lcdm"]), code.script_code(inspect)) == before
    assert code.script_code(figure) == drawn
    edit(package / "data/simulate.py", "\nC_KM_S = ", "\nEDITED = True\nC_KM_S = ")
    assert code.script_code(simulate, models=["janusfit.models.lcdm"]) != before[0]


def test_a_checkpoint_made_with_another_likelihood_is_refused_naming_the_module(tmp_path, package, public_data):
    jla = jla_diagonal(public_data)
    posterior = Posterior(get_model("lcdm"), [jla], {})
    run_emcee_in(tmp_path, posterior, max_steps=100)
    before = (tmp_path / "ck/fingerprint.json").read_text()
    edit(package / "likelihood/kernels.py", "LOG10_SCALE = ", "LOG10_SCALE = 1.0 * ")
    with pytest.raises(FingerprintError) as err:
        run_emcee_in(tmp_path, posterior, max_steps=200)
    message = str(err.value)
    assert "\n  code.janusfit.likelihood.kernels: '" in message
    assert "other source code of the model or likelihood (under 'code', the modules whose code differs)" in message
    assert (tmp_path / "ck/fingerprint.json").read_text() == before


def test_a_checkpoint_of_a_janusfit_that_did_not_record_its_code_is_refused(tmp_path, public_data):
    jla = jla_diagonal(public_data)
    posterior = Posterior(get_model("lcdm"), [jla], {})
    run_emcee_in(tmp_path, posterior, max_steps=100)
    fingerprint = tmp_path / "ck/fingerprint.json"
    stored = json.loads(fingerprint.read_text())
    del stored["code"]
    fingerprint.write_text(json.dumps(stored))
    with pytest.raises(FingerprintError) as err:
        run_emcee_in(tmp_path, posterior, max_steps=200)
    message = str(err.value)
    assert "\n  code: 'not recorded' -> 'recorded'\n" in message
    assert "written by a janusfit that did not record it, so it cannot be shown to match today's" in message


# The edit of H(z)'s H0 column: before it, H(z) read H0 from the last parameter.
H0_FIX = ('theta[:, self.param_names.index("H0")]', "theta[:, -1]")


def _cc(public_data):
    from janusfit.data import load_dataset

    return load_dataset(
        "cc", {"kind": "hz", "format": "hz_table", "path": "cosmic_chronometers/moresco2016_hz.txt"}, public_data
    )


def _before_the_h0_fix(package) -> None:
    after = code.module_digest("janusfit.likelihood.posterior")
    edit(package / "likelihood/posterior.py", H0_FIX[0], H0_FIX[1])
    # The digests the table of edits that changed no value names are those of this code before and after.
    assert ("janusfit.likelihood.posterior", code.module_digest("janusfit.likelihood.posterior"), after) in SAME_VALUES


def test_a_checkpoint_made_before_the_h0_fix_resumes_where_the_fix_changed_no_value(tmp_path, package, public_data):
    """JLA binned with H(z): H0 is the last parameter, which the code before the fix read, so nothing changed."""
    posterior = Posterior(get_model("lcdm"), [jla_diagonal(public_data), _cc(public_data)], {})
    assert posterior.param_names[-1] == "H0"
    _before_the_h0_fix(package)
    run_emcee_in(tmp_path, posterior, max_steps=100)
    old = json.loads((tmp_path / "ck/fingerprint.json").read_text())["code"]["janusfit.likelihood.posterior"]
    edit(package / "likelihood/posterior.py", H0_FIX[1], H0_FIX[0])
    new = code.module_digest("janusfit.likelihood.posterior")
    log = Log()
    assert run_emcee_in(tmp_path, posterior, log=log, max_steps=150).resumes == [100]
    assert log.has(f"which changes no value of this run: code.janusfit.likelihood.posterior: '{old}' -> '{new}'")
    assert json.loads((tmp_path / "ck/fingerprint.json").read_text())["code"]["janusfit.likelihood.posterior"] == new


def test_a_checkpoint_of_light_curves_with_h_z_made_before_the_h0_fix_is_refused(tmp_path, package, public_data):
    """There H0 is followed by α and β: the code before the fix gave H(z) β as H0, so its samples are refused."""
    from janusfit.data import load_dataset

    spec = {"kind": "sn", "format": "jla_lcparams", "path": "jla/jla_lcparams.txt", "pecz": 0}
    posterior = Posterior(get_model("lcdm"), [load_dataset("jla740", spec, public_data), _cc(public_data)], {})
    _before_the_h0_fix(package)
    stored = make_fingerprint(posterior, "emcee", {})
    edit(package / "likelihood/posterior.py", H0_FIX[1], H0_FIX[0])
    current = make_fingerprint(posterior, "emcee", {})
    assert same_values(stored, current) == (stored, [])
    with pytest.raises(FingerprintError, match=r"\n  code\.janusfit\.likelihood\.posterior: '[0-9a-f]{16}' -> "):
        check_fingerprint(stored, current, tmp_path)


def test_a_checkpoint_made_before_the_h0_fix_is_refused_after_any_later_edit(tmp_path, package, public_data):
    """The table vouches for the edit it names, not for the module's next one."""
    posterior = Posterior(get_model("lcdm"), [jla_diagonal(public_data), _cc(public_data)], {})
    _before_the_h0_fix(package)
    stored = make_fingerprint(posterior, "emcee", {})
    edit(package / "likelihood/posterior.py", H0_FIX[1], H0_FIX[0])
    edit(package / "likelihood/posterior.py", "DYNESTY_FLOOR = -1e8", "DYNESTY_FLOOR = -1e9")
    current = make_fingerprint(posterior, "emcee", {})
    assert same_values(stored, current) == (stored, [])
    with pytest.raises(FingerprintError, match=r"\n  code\.janusfit\.likelihood\.posterior: 'a7931a98b19efc36' -> "):
        check_fingerprint(stored, current, tmp_path)


# The edit of Model's registration messages (they name the modules now), which changed no value of any run.
NAMES_FIX = (
    """                raise ValueError(
                    f"model class {_where(cls)} has the name '{cls.name}' of {_where(MODELS[cls.name])}: "
                    "give it a name of its own (its `name`, which config.yaml's models: lists)"
                )""",
    """                raise ValueError(f"model name '{cls.name}' is registered twice")""",
    """                raise ValueError(
                    f"model '{cls.name}' ({_where(cls)}): params and default_priors differ in {sorted(missing)}"
                )""",
    """                raise ValueError(f"model '{cls.name}': params and default_priors differ in {sorted(missing)}")""",
)


def _before_the_names_fix(package) -> str:
    """Model's module as it was before the edit; returns its source after the edit, to put back."""
    base = package / "models/base.py"
    after_text, after = base.read_text(), code.module_digest("janusfit.models.base")
    edit(base, "import sys\n", "")
    edit(base, NAMES_FIX[0], NAMES_FIX[1])
    edit(base, NAMES_FIX[2], NAMES_FIX[3])
    text = base.read_text()
    base.write_text(text[: text.index("\n\n\ndef _where(")] + "\n")
    forget()
    assert ("janusfit.models.base", code.module_digest("janusfit.models.base"), after) in SAME_VALUES
    return after_text


def test_a_checkpoint_made_before_the_models_messages_named_their_module_resumes(tmp_path, package, public_data):
    """An edit of a message in ``Model`` changed no value, and must not refuse every checkpoint on upgrade."""
    posterior = Posterior(get_model("janus"), [jla_diagonal(public_data)], {})
    after_text = _before_the_names_fix(package)
    run_emcee_in(tmp_path, posterior, max_steps=100)
    old = json.loads((tmp_path / "ck/fingerprint.json").read_text())["code"]["janusfit.models.base"]
    (package / "models/base.py").write_text(after_text)
    forget()
    new = code.module_digest("janusfit.models.base")
    log = Log()
    assert run_emcee_in(tmp_path, posterior, log=log, max_steps=150).resumes == [100]
    assert log.has(f"which changes no value of this run: code.janusfit.models.base: '{old}' -> '{new}'")


# JANUS's domain ended at q0 = 0 (2026-12-07): before, it went on above 0, where the formulas are a
# Friedmann dust universe. Runs whose q0 prior stops at 0 (the default) have the same values.
JANUS_DOMAIN = (
    ('return {"q0": (-1.0 / (2.0 * z_max), 0.0)}', 'return {"q0": (-1.0 / (2.0 * z_max), np.inf)}'),
    (
        "return (1.0 + 2.0 * theta[:, 0] * z_max > 0.0) & (theta[:, 0] <= 0.0)",
        "return 1.0 + 2.0 * theta[:, 0] * z_max > 0.0",
    ),
)


def _before_janus_ended_at_0(package) -> str:
    """JANUS's module as it was before its domain ended at q0 = 0; returns its source now, to put back."""
    janus = package / "models/janus.py"
    now_text, now = janus.read_text(), code.value_digest("janusfit.models.janus")
    for after, before in JANUS_DOMAIN:
        edit(janus, after, before)
    assert ("janusfit.models.janus", code.value_digest("janusfit.models.janus"), now) in SAME_VALUES
    return now_text


@pytest.mark.parametrize("upper", [0.0, 0.5])
def test_a_janus_checkpoint_from_before_its_domain_ended_at_0_resumes_only_under_a_prior_below_0(
    tmp_path, package, public_data, upper
):
    """Under the default prior (q0 up to 0) the edit changed no value: its checkpoints resume. One whose prior
    reached 0.5 sampled q0 above 0, outside JANUS: refused."""
    posterior = Posterior(get_model("janus"), [jla_diagonal(public_data)], {"q0": (-0.5, upper)})
    now_text = _before_janus_ended_at_0(package)
    stored = make_fingerprint(posterior, "emcee", {})
    if upper <= 0.0:
        run_emcee_in(tmp_path, posterior, max_steps=100)
    (package / "models/janus.py").write_text(now_text)
    forget()
    if upper <= 0.0:
        log = Log()
        assert run_emcee_in(tmp_path, posterior, log=log, max_steps=150).resumes == [100]
        assert log.has("which changes no value of this run: code.janusfit.models.janus: 'fe35a1fd5c3df98e' -> ")
    else:
        current = make_fingerprint(posterior, "emcee", {})
        assert same_values(stored, current) == (stored, [])
        with pytest.raises(FingerprintError, match=r"\n  code\.janusfit\.models\.janus: 'fe35a1fd5c3df98e' -> "):
            check_fingerprint(stored, current, tmp_path)


LABEL_EDITS = (
    ('labels = {"Om": r"$\\Omega_m$"}', 'labels = {"Om": r"$\\Omega_{\\rm m}$"}'),
    ('latex_name = r"flat $\\Lambda$CDM"', 'latex_name = r"$\\Lambda$CDM (flat)"'),
    ('reference = "flat ΛCDM"', 'reference = "flat ΛCDM, Peebles 1984"'),
)


@pytest.mark.parametrize("label_edit", LABEL_EDITS, ids=["labels", "latex_name", "reference"])
def test_a_label_edit_reruns_what_shows_it_and_refuses_no_checkpoint(tmp_path, package, public_data, label_edit):
    """A model's labels, LaTeX name and reference name it for people: editing one (a paper's figure) refused
    every checkpoint of the model, as an edit of its E(z) does."""
    posterior = Posterior(get_model("lcdm"), [jla_diagonal(public_data)], {})
    script = code.script_code(SCRIPTS / "corner.py", models=["janusfit.models.lcdm"])
    run_emcee_in(tmp_path, posterior, max_steps=100)
    before = code.posterior_code("janusfit.models.lcdm")
    edit(package / "models/lcdm.py", *label_edit)
    assert code.posterior_code("janusfit.models.lcdm") == before
    assert code.script_code(SCRIPTS / "corner.py", models=["janusfit.models.lcdm"]) != script
    log = Log()
    assert run_emcee_in(tmp_path, posterior, log=log, max_steps=150).resumes == [100]
    assert not log.has("other code")


@pytest.mark.parametrize(
    "numeric_edit", [("reference = 0.3", "reference = 0.31"), ("labels = (0.1, 0.5)", "labels = (0.1, 0.6)")]
)
def test_a_display_name_that_holds_numbers_stays_in_the_posterior_code(package, numeric_edit):
    """Any class attribute named ``labels``, ``latex_name`` or ``reference`` was left out of the posterior's
    digest, numbers too: a model computing with its ``reference`` redshift resumed a checkpoint of another."""
    (package / "models/knots.py").write_text(
        "import numpy as np\n\n\nclass Knots:\n    labels = (0.1, 0.5)\n    reference = 0.3\n"
        '    latex_name = "knots"\n\n    def at(self, z):\n'
        "        return np.interp(z, self.labels, (0.0, 1.0)) + self.reference\n"
    )
    forget()
    before = code.value_digest("janusfit.models.knots")
    edit(package / "models/knots.py", 'latex_name = "knots"', 'latex_name = "Knots"')
    assert code.value_digest("janusfit.models.knots") == before
    edit(package / "models/knots.py", *numeric_edit)
    assert code.value_digest("janusfit.models.knots") != before


def test_a_checkpoint_whose_digests_held_the_labels_resumes(tmp_path, public_data):
    """Recorded before the posterior's digests left the display attributes out, a model's digest was that of
    its whole module: the same code, whose checkpoint resumes, saying why, and records today's digest."""
    posterior = Posterior(get_model("lcdm"), [jla_diagonal(public_data)], {})
    run_emcee_in(tmp_path, posterior, max_steps=100)
    path = tmp_path / "ck/fingerprint.json"
    fingerprint = json.loads(path.read_text())
    whole, values = code.module_digest("janusfit.models.lcdm"), code.value_digest("janusfit.models.lcdm")
    assert fingerprint["code"]["janusfit.models.lcdm"] == values != whole
    fingerprint["code"] = {m: code.module_digest(m) for m in fingerprint["code"]}
    path.write_text(json.dumps(fingerprint))
    log = Log()
    assert run_emcee_in(tmp_path, posterior, log=log, max_steps=150).resumes == [100]
    assert log.has(
        f"code.janusfit.models.lcdm: '{whole}' -> '{values}' (no edit: the digest now leaves out labels, "
        "latex_name, reference, which change no value)"
    )
    assert json.loads(path.read_text())["code"]["janusfit.models.lcdm"] == values


RECORDED = Path(__file__).resolve().parent / "posterior_code.json"


def test_the_shipped_models_posterior_code_is_the_recorded_one():
    """An edit of a module a posterior is built from refuses every checkpoint of its runs after an upgrade
    (``code.<module>: '<old>' -> '<new>'``), finished ones included. Such an edit must be deliberate: a
    constant added to ``janusfit.data.lightcurves`` for a message (2026-12-04) would have refused them all.
    An edit that changes values: update ``tests/posterior_code.json`` in its commit and say so in the README.
    One that changes no value: keep the digest (move the code elsewhere), or record it in ``SAME_VALUES``."""
    from janusfit.models import MODELS

    recorded = json.loads(RECORDED.read_text())
    now = {name: code.posterior_code(MODELS[name].__module__) for name in recorded}
    changed = {
        name: sorted(m for m in set(now[name]) | set(recorded[name]) if now[name].get(m) != recorded[name].get(m))
        for name in recorded
    }
    assert now == recorded, f"the posterior code of these models changed, so their checkpoints are refused: {changed}"
