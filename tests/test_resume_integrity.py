"""Resume semantics: what a resumed run may and may not continue from.

In-process runs (JLA binned with diagonal errors, fast) check the fingerprint
rules, the stopping rule under interruptions and NaN likelihoods; one run of
the real workflow checks that a settings change between an interruption and
the resume is refused in the job's log, and that ``on_change: restart`` keeps
the old checkpoint aside and proceeds.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from snakemake_runner import HANG_GUARD_S, command, env, run, write_config
from test_checkpoint_store import (
    EMCEE,
    Log,
    assert_same_chain,
    chain_arrays,
    jla_diagonal,
    run_dynesty_in,
    run_emcee_in,
)

from janusfit import __version__
from janusfit.atomic import sha256_file
from janusfit.data import Dataset, load_dataset
from janusfit.data.sources import identity
from janusfit.errors import CheckpointError, FingerprintError, LikelihoodError
from janusfit.likelihood import Posterior
from janusfit.models import get_model
from janusfit.sampling.emcee_runner import EmceeSettings, run_emcee
from janusfit.sampling.fingerprint import make_fingerprint
from janusfit.sampling.session import CheckpointSession, Interrupted

STOP = dict(stop_on_convergence=True, check_every=50, n_over_tau=30, tau_rel_change=0.2, max_steps=2000)


@pytest.fixture(scope="module")
def jla(public_data) -> Dataset:
    return jla_diagonal(public_data)


def lcdm(jla, **priors) -> Posterior:
    return Posterior(get_model("lcdm"), [jla], priors)


def files(directory: Path) -> dict:
    return {p.relative_to(directory): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


# --- fingerprint -------------------------------------------------------------


def test_changed_prior_is_refused_naming_the_key(tmp_path, jla):
    run_emcee_in(tmp_path, lcdm(jla), max_steps=100)
    before = files(tmp_path / "ck")
    with pytest.raises(FingerprintError) as err:
        run_emcee_in(tmp_path, lcdm(jla, Om=(0.05, 1.0)))
    message = str(err.value)
    assert message.startswith(f"the checkpoint in '{tmp_path / 'ck'}' was made with different inputs:")
    assert "\n  priors.Om: [0.01, 1.0] -> [0.05, 1.0]\n" in message
    assert "set 'on_change: restart'" in message
    assert files(tmp_path / "ck") == before


@pytest.mark.parametrize("why", ["prior_changed", "fingerprint_lost", "fingerprint_unreadable"])
def test_on_change_restart_keeps_the_old_checkpoint_and_starts_afresh(tmp_path, jla, why):
    run_emcee_in(tmp_path, lcdm(jla), max_steps=100)
    if why == "fingerprint_lost":
        (tmp_path / "ck/fingerprint.json").unlink()
    if why == "fingerprint_unreadable":  # the audit's case: refused even under on_change: restart
        (tmp_path / "ck/fingerprint.json").write_text('{"cut')
    before = files(tmp_path / "ck")
    posterior = lcdm(jla, Om=(0.05, 1.0))
    settings = EmceeSettings(**{**EMCEE, "max_steps": 100})
    log = Log()
    with CheckpointSession(
        tmp_path / "ck", make_fingerprint(posterior, "emcee", settings.chain_settings()), on_change="restart", log=log
    ) as session:
        result = run_emcee(posterior, settings, session, tmp_path / "chain.h5", log=log)
    (old,) = tmp_path.glob("ck.superseded-*")
    assert files(old) == before
    because = {
        "prior_changed": "it was made with different inputs (priors.Om: [0.01, 1.0] -> [0.05, 1.0])",
        "fingerprint_lost": "its samples have no fingerprint",
        "fingerprint_unreadable": "its fingerprint.json cannot be read",
    }[why]
    assert log.has(f"on_change is 'restart' and {because}: the old checkpoint was moved to '{old}'")
    assert log.has("but no fingerprint.json") == (why == "fingerprint_lost")
    assert result.resumes == []
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    run_emcee_in(fresh, posterior, max_steps=100)
    assert_same_chain(chain_arrays(tmp_path / "chain.h5"), chain_arrays(fresh / "chain.h5"))


@pytest.mark.parametrize("content", [b'{"trunc', b"\x80\x81 not text"], ids=["cut", "binary"])
def test_a_resume_record_that_cannot_be_read_is_set_aside_and_named(tmp_path, jla, content):
    """The audit's case: a damaged resumes.json was read as no resume and written over, without a word.
    Bytes that are not text stopped the job with a UnicodeDecodeError traceback."""
    run_emcee_in(tmp_path, lcdm(jla), max_steps=100)
    record = tmp_path / "ck/resumes.json"
    record.write_bytes(content)
    log = Log()
    result = run_emcee_in(tmp_path, lcdm(jla), log=log, max_steps=200)
    (aside,) = (tmp_path / "ck").glob("resumes.json.damaged-*")
    assert aside.read_bytes() == content
    assert log.has(f"WARNING the resume record '{record}' cannot be read (")
    assert log.has(f"it was moved to '{aside}', and the resumes it held are not listed in this run's results")
    assert result.resumes == [100]


@pytest.mark.parametrize("name", ["fingerprint.json", "resumes.json"])
def test_a_checkpoint_record_the_system_will_not_read_is_named_and_nothing_is_set_aside(
    tmp_path, jla, monkeypatch, name
):
    """Even under on_change: restart a fingerprint.json the system would not read (no permission, an I/O error)
    set the whole checkpoint aside and the run started afresh; a resumes.json so gave a PermissionError traceback."""
    run_emcee_in(tmp_path, lcdm(jla), max_steps=100)
    run_emcee_in(tmp_path, lcdm(jla), max_steps=150)  # a resume, so that resumes.json exists
    record = tmp_path / "ck" / name
    before = files(tmp_path / "ck")
    read_bytes = Path.read_bytes

    def refused(path):
        if path == record:
            raise PermissionError(13, "Permission denied", str(path))
        return read_bytes(path)

    monkeypatch.setattr(Path, "read_bytes", refused)
    monkeypatch.setattr(Path, "read_text", lambda path, *a, **k: refused(path).decode(*a, **k))
    settings = EmceeSettings(**{**EMCEE, "max_steps": 200})
    fingerprint = make_fingerprint(lcdm(jla), "emcee", settings.chain_settings())
    with pytest.raises(CheckpointError, match=rf"checkpoint file '{record}' cannot be read \(Permission denied\)"):
        with CheckpointSession(tmp_path / "ck", fingerprint, on_change="restart", log=Log()) as session:
            run_emcee(lcdm(jla), settings, session, tmp_path / "chain.h5", log=Log())
    monkeypatch.undo()
    assert files(tmp_path / "ck") == before and not list(tmp_path.glob("ck.superseded-*"))


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"cut', "Unterminated string"),
        ("null", "it holds null, not the JSON object of keys janusfit writes"),
        ("[]", "it holds [], not the JSON object of keys janusfit writes"),
    ],
)
def test_a_fingerprint_that_cannot_be_read_is_refused_and_left_alone(tmp_path, jla, text, reason):
    """A fingerprint of JSON null was once read as none at all: the samples resumed unchecked and it was written over."""
    run_emcee_in(tmp_path, lcdm(jla), max_steps=100)
    fingerprint = tmp_path / "ck/fingerprint.json"
    fingerprint.write_text(text)
    before = files(tmp_path / "ck")
    with pytest.raises(CheckpointError) as raised:
        run_emcee_in(tmp_path, lcdm(jla), max_steps=200)
    assert str(raised.value).startswith(f"checkpoint fingerprint '{fingerprint}' cannot be read ({reason}")
    assert str(raised.value).endswith(
        "; the checkpoint was left untouched. Restore the file to resume it, or set on_change: restart (or move "
        "the directory aside) to start afresh."
    )
    assert files(tmp_path / "ck") == before


def test_checkpoint_of_another_janusfit_version_is_refused_naming_both(tmp_path, jla):
    run_emcee_in(tmp_path, lcdm(jla), max_steps=100)
    fp = tmp_path / "ck/fingerprint.json"
    fp.write_text(fp.read_text().replace(f'"janusfit_version": "{__version__}"', '"janusfit_version": "0.0.9"'))
    with pytest.raises(FingerprintError) as err:
        run_emcee_in(tmp_path, lcdm(jla))
    assert f"janusfit_version: '0.0.9' -> '{__version__}'" in str(err.value)
    assert f"The checkpoint was written by janusfit version 0.0.9, this is version {__version__}." in str(err.value)


def test_changed_data_is_refused_listing_the_file_and_both_checksums(tmp_path, jla):
    run_emcee_in(tmp_path, lcdm(jla), max_steps=100)
    values = jla.values.copy()
    values[3] += 0.001
    changed = Dataset("jla", "sn", jla.z, values, sigma=jla.sigma, sha256={**jla.sha256, "path": "f" * 64})
    with pytest.raises(FingerprintError) as err:
        run_emcee_in(tmp_path, Posterior(get_model("lcdm"), [changed]))
    assert f"data.jla.sha256.path: '{jla.sha256['path']}' -> '{'f' * 64}'" in str(err.value)
    assert f"data.jla.arrays_sha256: '{jla.arrays_sha256}' -> '{changed.arrays_sha256}'" in str(err.value)


def jla_csv(directory: Path, public_data: Path) -> Path:
    """JLA binned as a CSV with its diagonal errors and a second distance column mu_alt = mu − 0.6 z."""
    full = load_dataset(
        "jla",
        {
            "kind": "sn",
            "format": "jla_binned",
            "path": str(public_data / "jla/jla_mub.txt"),
            "cov": str(public_data / "jla/jla_mub_covmatrix.txt"),
        },
    )
    sigma = np.sqrt(np.diag(full.cov))
    rows = [f"{z:.17g},{mu:.17g},{mu - 0.6 * z:.17g},{s:.17g}" for z, mu, s in zip(full.z, full.values, sigma)]
    path = directory / "jla.csv"
    path.write_text("z,mu,mu_alt,sigma\n" + "\n".join(rows) + "\n")
    return path


def test_reading_another_column_of_the_same_file_is_refused_on_resume(tmp_path, public_data):
    """The file's bytes are the same; the numbers read from it are not."""
    spec = {"kind": "sn", "format": "csv", "path": str(jla_csv(tmp_path, public_data))}
    run_emcee_in(tmp_path, Posterior(get_model("lcdm"), [load_dataset("jla", spec)]), max_steps=100)
    before = files(tmp_path / "ck")
    alt = load_dataset("jla", {**spec, "columns": {"mu": "mu_alt"}})
    with pytest.raises(FingerprintError) as err:
        run_emcee_in(tmp_path, Posterior(get_model("lcdm"), [alt]), max_steps=200)
    message = str(err.value)
    assert "\n  data.jla.reading.columns: added ({'mu': 'mu_alt'})\n" in message
    assert "\n  data.jla.arrays_sha256: '" in message and "data.jla.sha256" not in message
    assert files(tmp_path / "ck") == before


def test_columns_named_as_their_roles_are_the_reading_that_names_none(tmp_path, public_data):
    """``columns: {z: z, mu: mu, sigma: sigma}`` (or ``{}``) reads what no ``columns`` reads: inspect_data's
    params are the same (nothing reruns) and a checkpoint made without it resumes."""
    spec = {"kind": "sn", "format": "csv", "path": str(jla_csv(tmp_path, public_data))}
    run_emcee_in(tmp_path, Posterior(get_model("lcdm"), [load_dataset("jla", spec)]), max_steps=100)
    named = {**spec, "columns": {"z": "z", "mu": "mu", "sigma": "sigma"}}
    for written in (named, {**spec, "columns": {}}):
        assert identity({"datasets": {"jla": written}}, ["jla"]) == identity({"datasets": {"jla": spec}}, ["jla"])
    posterior = Posterior(get_model("lcdm"), [load_dataset("jla", named)])
    assert run_emcee_in(tmp_path, posterior, max_steps=150).resumes == [100]


def test_two_files_of_the_same_name_keep_a_checksum_each(tmp_path, public_data):
    """``path: d1/jla.txt`` and ``cov: d2/jla.txt``: editing the data file is seen on resume."""
    for folder, name in (("d1", "jla_mub.txt"), ("d2", "jla_mub_covmatrix.txt")):
        (tmp_path / folder).mkdir()
        shutil.copy(public_data / "jla" / name, tmp_path / folder / "jla.txt")
    spec = {"kind": "sn", "format": "jla_binned", "path": "d1/jla.txt", "cov": "d2/jla.txt"}
    run_emcee_in(tmp_path, Posterior(get_model("lcdm"), [load_dataset("jla", spec, tmp_path)]), max_steps=100)
    lines = (tmp_path / "d1/jla.txt").read_text().splitlines()
    z, mu = lines[5].split(",")
    old_sha = sha256_file(tmp_path / "d1/jla.txt")
    (tmp_path / "d1/jla.txt").write_text("\n".join([*lines[:5], f"{z},{float(mu) + 0.5!r}", *lines[6:]]) + "\n")
    with pytest.raises(FingerprintError) as err:
        run_emcee_in(tmp_path, Posterior(get_model("lcdm"), [load_dataset("jla", spec, tmp_path)]), max_steps=200)
    assert f"\n  data.jla.sha256.path: '{old_sha}' -> '{sha256_file(tmp_path / 'd1/jla.txt')}'\n" in str(err.value)


def test_data_rewritten_with_other_bytes_but_the_same_numbers_resumes_and_says_so(tmp_path, public_data):
    """CRLF line endings and no final newline: another sha256, the same arrays; the chain goes on, bit for bit."""
    (tmp_path / "d").mkdir()
    for name in ("jla_mub.txt", "jla_mub_covmatrix.txt"):
        shutil.copy(public_data / "jla" / name, tmp_path / "d" / name)
    spec = {"kind": "sn", "format": "jla_binned", "path": "d/jla_mub.txt", "cov": "d/jla_mub_covmatrix.txt"}
    first = load_dataset("jla", spec, tmp_path)
    run_emcee_in(tmp_path, Posterior(get_model("lcdm"), [first]), max_steps=100)
    data = tmp_path / "d/jla_mub.txt"
    data.write_bytes(data.read_bytes().replace(b"\n", b"\r\n").rstrip())
    again = load_dataset("jla", spec, tmp_path)
    assert again.sha256["path"] != first.sha256["path"] and again.arrays_sha256 == first.arrays_sha256
    log = Log()
    result = run_emcee_in(tmp_path, Posterior(get_model("lcdm"), [again]), log=log, max_steps=200)
    assert result.resumes == [100]
    assert log.has("the data files of jla differ in their bytes from the checkpoint's (sha256) while the numbers")
    stored = json.loads((tmp_path / "ck/fingerprint.json").read_text())
    assert stored["data"]["jla"]["sha256"]["path"] == sha256_file(data)
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    run_emcee_in(fresh, Posterior(get_model("lcdm"), [first]), max_steps=200)
    assert_same_chain(chain_arrays(tmp_path / "chain.h5"), chain_arrays(fresh / "chain.h5"))


def test_a_moved_project_still_resumes(tmp_path, public_data):
    """The fingerprint ties a checkpoint to the data's bytes, not to where they lie."""

    def posterior_in(directory: Path) -> Posterior:
        shutil.copytree(public_data / "jla", directory / "data")
        data = load_dataset(
            "jla",
            {"kind": "sn", "format": "jla_binned", "path": "data/jla_mub.txt", "cov": "data/jla_mub_covmatrix.txt"},
            base_dir=directory,
        )
        return Posterior(
            get_model("lcdm"),
            [Dataset("jla", "sn", data.z, data.values, sigma=np.sqrt(np.diag(data.cov)), sha256=data.sha256)],
        )

    first = tmp_path / "first"
    run_emcee_in(first, posterior_in(first), max_steps=100)
    moved = tmp_path / "elsewhere/second"
    moved.mkdir(parents=True)
    shutil.copytree(first / "ck", moved / "ck")
    assert run_emcee_in(moved, posterior_in(moved), max_steps=150).resumes == [100]


@pytest.mark.parametrize("sampler", ["emcee", "dynesty"])
def test_samples_without_their_fingerprint_are_refused_and_left_alone(tmp_path, jla, sampler):
    """The audit's case: a checkpoint whose fingerprint.json was lost (copied in part, deleted) was resumed
    unchecked under other priors, and today's fingerprint written over it hid that for good."""
    run_in = run_emcee_in if sampler == "emcee" else run_dynesty_in
    run_in(tmp_path, lcdm(jla), **({"max_steps": 100} if sampler == "emcee" else {}))
    (tmp_path / "ck/fingerprint.json").unlink()
    before = files(tmp_path / "ck")
    with pytest.raises(CheckpointError, match="holds samples .* but no fingerprint.json.* left untouched"):
        run_in(tmp_path, lcdm(jla, Om=(0.05, 1.0)))
    assert files(tmp_path / "ck") == before


# --- the stopping rule and interruptions -------------------------------------


def test_a_finished_run_rerun_is_rebuilt_from_its_checkpoint_without_recomputing(tmp_path, jla):
    """Snakemake removes a job's outputs before a rerun; the checkpoint alone gives them back."""
    first = run_emcee_in(tmp_path, lcdm(jla))
    chain = chain_arrays(tmp_path / "chain.h5")
    (tmp_path / "chain.h5").unlink()
    again = run_emcee_in(tmp_path, lcdm(jla))
    assert again.resumes == [first.n_steps] and again.n_steps == first.n_steps
    assert_same_chain(chain_arrays(tmp_path / "chain.h5"), chain)

    done, _ = run_dynesty_in(tmp_path / "dynesty", lcdm(jla))
    # The live record counts what evidence.json and janusfit status count (it said one more: dynesty's next).
    assert json.loads((tmp_path / "dynesty/ck/progress.json").read_text())["iteration"] == done.n_iter
    log = Log()
    rerun, _ = run_dynesty_in(tmp_path / "dynesty", lcdm(jla), log=log)
    (resumed_at,) = rerun.resumes  # dynesty's iteration counter, which starts at 1
    assert resumed_at == done.n_iter + 1 and (rerun.logz, rerun.logz_err) == (done.logz, done.logz_err)
    assert log.has(f"dynesty finished: {done.n_iter} iterations, its checkpoint had already met dlogz")


class SigtermAt(Log):
    """A log callback that sends this process SIGTERM when emcee reports step ``at``."""

    def __init__(self, at: int):
        super().__init__()
        self.at = at

    def __call__(self, message):
        super().__call__(message)
        if f"emcee step {self.at}/" in str(message):
            os.kill(os.getpid(), signal.SIGTERM)


def test_stopping_rule_takes_the_same_decision_whatever_the_interruptions(tmp_path, jla):
    reference = run_emcee_in(tmp_path / "reference", lcdm(jla), **STOP)
    assert reference.stop_reason == "converged" and reference.n_steps < STOP["max_steps"]
    resumed = tmp_path / "resumed"
    for at in (100, 150, 250):
        if at < reference.n_steps:
            with pytest.raises(Interrupted):
                run_emcee_in(resumed, lcdm(jla), log=SigtermAt(at), **STOP)
    result = run_emcee_in(resumed, lcdm(jla), **STOP)
    assert result.resumes == [a for a in (100, 150, 250) if a < reference.n_steps]
    assert (result.n_steps, result.stop_reason, result.tau_history, result.tau) == (
        reference.n_steps,
        reference.stop_reason,
        reference.tau_history,
        reference.tau,
    )
    assert_same_chain(chain_arrays(resumed / "chain.h5"), chain_arrays(tmp_path / "reference/chain.h5"))


@pytest.mark.parametrize(
    "first",
    [dict(n_over_tau=60), dict(n_over_tau=10), dict(check_every=75), dict(stop_on_convergence=False, max_steps=900)],
    ids=["stricter_first", "looser_first", "other_check_interval_first", "no_rule_first"],
)
def test_a_changed_stopping_rule_resumes_to_the_chain_a_fresh_run_gives(tmp_path, jla, first):
    """The checkpoint of a run with another stopping rule is resumed, and the chain ends where it should.

    A stricter rule first leaves a longer chain, which is cut where the current
    rule stops; a looser one leaves a shorter chain, which is continued.
    """
    reference = run_emcee_in(tmp_path / "reference", lcdm(jla), **STOP)
    run_emcee_in(tmp_path / "resumed", lcdm(jla), **{**STOP, **first})
    log = Log()
    result = run_emcee_in(tmp_path / "resumed", lcdm(jla), log=log, **STOP)
    assert (result.n_steps, result.stop_reason, result.tau_history, result.tau, result.acceptance) == (
        reference.n_steps,
        reference.stop_reason,
        reference.tau_history,
        reference.tau,
        reference.acceptance,
    )
    assert_same_chain(chain_arrays(tmp_path / "resumed/chain.h5"), chain_arrays(tmp_path / "reference/chain.h5"))
    assert len(result.resumes) == 1  # the checkpoint was resumed, not thrown away
    assert log.has("the stopping rule or max_steps differ from the checkpoint's")


def test_max_steps_lowered_inside_a_segment_gives_the_shorter_chain(tmp_path, jla):
    """Segments end every 50 steps; 275 falls inside one, whose first 25 steps are sampled again."""
    reference = run_emcee_in(tmp_path / "reference", lcdm(jla), max_steps=275)
    run_emcee_in(tmp_path / "resumed", lcdm(jla), max_steps=300)
    result = run_emcee_in(tmp_path / "resumed", lcdm(jla), max_steps=275)
    assert (result.n_steps, result.acceptance, result.tau) == (275, reference.acceptance, reference.tau)
    # Rebuilt from the checkpoint where the chain now ends (the audit found a resume at 300 for a 275-step chain).
    assert result.resumes == [275]
    assert_same_chain(chain_arrays(tmp_path / "resumed/chain.h5"), chain_arrays(tmp_path / "reference/chain.h5"))
    # The steps beyond 275 stay in the checkpoint: raising max_steps again needs no sampling.
    raised = run_emcee_in(tmp_path / "resumed", lcdm(jla), max_steps=300)
    assert (raised.n_steps, raised.resumes) == (300, [300, 300])  # both later jobs resumed the checkpoint at 300


# --- NaN log-likelihood ------------------------------------------------------


def nan_posterior(jla) -> Posterior:
    """wCDM with Ωm > 1 and w > 0: E(z)² < 0 at high z, so √ gives NaN."""
    return Posterior(get_model("wcdm"), [jla], {"Om": (1.5, 2.0), "w": (0.5, 1.0)})


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # numpy's own "invalid value in sqrt"
@pytest.mark.parametrize("sampler", ["emcee", "dynesty"])
def test_nan_log_likelihood_names_the_parameter_values(tmp_path, jla, sampler):
    with pytest.raises(LikelihoodError) as err:
        if sampler == "emcee":
            run_emcee_in(tmp_path, nan_posterior(jla))
        else:
            run_dynesty_in(tmp_path, nan_posterior(jla))
    message = str(err.value)
    assert message.startswith("log-likelihood is NaN at Om=") and ", w=" in message
    assert message.endswith("(model 'wcdm')")
    om, w = (float(part.split("=")[1].split()[0]) for part in message.split(" at ")[1].split(", "))
    assert 1.5 <= om <= 2.0 and 0.5 <= w <= 1.0


# --- the real workflow: a settings change between interruption and resume ----


def emcee_config(directory: Path, public_data: Path, **extra) -> None:
    sections = dict(
        models=["lcdm"],
        samplers=["emcee"],
        cores={"performance": 1, "efficiency": 0},
        emcee={"max_steps": 20000, "checkpoint": {"steps": 100, "seconds": 1}, "stop": {"enabled": False}},
    )
    sections.update(extra)
    write_config(directory, public_data, **sections)


RUN_JSON = "results/jla/lcdm/emcee/run.json"
EMCEE_LOG = "results/logs/emcee/jla/lcdm.log"
CHECKPOINT = "results/checkpoints/jla/lcdm/emcee"


def test_workflow_refuses_a_prior_change_after_an_interruption_then_restarts_on_request(
    tmp_path, public_data, janusfit_cli
):
    emcee_config(tmp_path, public_data)
    with open(tmp_path / "first.err", "w") as err:
        proc = subprocess.Popen(
            command(tmp_path, RUN_JSON), stdout=subprocess.DEVNULL, stderr=err, start_new_session=True, env=env()
        )
    deadline = time.monotonic() + HANG_GUARD_S
    while not list((tmp_path / CHECKPOINT / "segments").glob("seg_*.npz")):
        assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "first.err").read_text()[-3000:]
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=HANG_GUARD_S)
    log = (tmp_path / EMCEE_LOG).read_text()
    assert "received SIGTERM: writing a checkpoint before stopping" in log
    assert "stopped by SIGTERM at iteration" in log
    checkpoint = files(tmp_path / CHECKPOINT)

    # The new prior in a config file of its own, added to the command line.
    (tmp_path / "changed.yaml").write_text(json.dumps({"priors": {"lcdm": {"Om": [0.05, 1.0]}}}))
    configs = ("--configfile", str(tmp_path / "config.yaml"), str(tmp_path / "changed.yaml"))
    refused = run(tmp_path, *configs, "--rerun-incomplete", RUN_JSON, check=False)
    assert refused.returncode != 0 and "Error in rule emcee" in refused.stderr
    log = (tmp_path / EMCEE_LOG).read_text()
    assert f"ERROR the checkpoint in '{CHECKPOINT}' was made with different inputs:" in log
    assert "  priors.Om: [0.01, 1.0] -> [0.05, 1.0]" in log
    assert files(tmp_path / CHECKPOINT) == checkpoint
    # The status says why the run does not go on, not "interrupted" with a
    # rerun that would be refused the same way.
    status = janusfit_cli("status", tmp_path / "results")
    assert status.returncode == 1, status.stderr  # as for an interrupted run: it needs the user
    text = status.stdout
    assert "refused" in text.splitlines()[1] and "interrupted" not in text
    assert "The last job of these samplers refused their checkpoint, which is left as it was:" in text
    assert f"jla/lcdm emcee: the checkpoint in '{CHECKPOINT}' was made with different inputs:" in text
    assert "      priors.Om: [0.01, 1.0] -> [0.05, 1.0]" in text
    assert "Once what each message says is mended (the inputs put back, or 'on_change: restart' set), rerun:" in text
    # The command to run again is the refused one, with its config files, not the one interrupted before it.
    rerun = text.split("rerun:\n", 1)[1].splitlines()[0]
    assert f"--configfile {tmp_path / 'config.yaml'} {tmp_path / 'changed.yaml'}" in rerun, rerun
    (state,) = json.loads(janusfit_cli("status", tmp_path / "results", "--json").stdout)
    assert state["state"] == "refused" and "priors.Om" in state["samplers"][0]["refusal"]

    emcee_config(
        tmp_path,
        public_data,
        priors={"lcdm": {"Om": [0.05, 1.0]}},
        on_change="restart",
        emcee={"max_steps": 300, "checkpoint": {"steps": 100, "seconds": 1}, "stop": {"enabled": False}},
    )
    run(tmp_path, "--rerun-incomplete", RUN_JSON)
    (old,) = (tmp_path / CHECKPOINT).parent.glob("emcee.superseded-*")
    assert files(old) == checkpoint
    assert "the old checkpoint was moved to" in (tmp_path / EMCEE_LOG).read_text()
    result = json.loads((tmp_path / RUN_JSON).read_text())
    assert result["resumes"] == [] and result["n_steps"] == 300
    stored = json.loads((tmp_path / CHECKPOINT / "fingerprint.json").read_text())
    assert stored["priors"]["Om"] == [0.05, 1.0]
    (state,) = json.loads(janusfit_cli("status", tmp_path / "results", "--json").stdout)
    assert state["samplers"][0]["state"] == "done" and state["samplers"][0]["refusal"] == ""
    assert not (tmp_path / f"{CHECKPOINT}.refused.json").exists()
