"""Crash-safe checkpoints: corrupted files, a full disk, and two samplers on one checkpoint.

The samplers run in-process on JLA binned (tests/data) with its diagonal
errors, which keeps each run well under a second; what is tested here is the
checkpoint, not the likelihood. "Bit-for-bit" compares an interrupted or
damaged run with an uninterrupted one of the same seed, array by array.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import dynesty
import emcee
import numpy as np
import pytest
from snakemake_runner import HANG_GUARD_S

import janusfit.atomic
import janusfit.sampling.store
from janusfit.data import Dataset, load_dataset
from janusfit.errors import CheckpointError, FingerprintError, JanusfitError
from janusfit.layout import PROGRESS_JSON, refusal_path
from janusfit.likelihood import Posterior
from janusfit.models import get_model
from janusfit.resources.memory import DEFAULT_INFORMATION, dynesty_iterations, estimate_dynesty
from janusfit.resources.runtime import DYNESTY_ITERATION_S, estimate_runtime_dynesty
from janusfit.sampling import dynesty_runner
from janusfit.sampling.dynesty_runner import DynestySettings, run_dynesty
from janusfit.sampling.emcee_runner import EmceeSettings, run_emcee
from janusfit.sampling.fingerprint import make_fingerprint
from janusfit.sampling.session import CheckpointSession, Interrupted
from janusfit.sampling.store import clean_partial, commit, quarantine, verified

EMCEE = dict(
    n_walkers=8, max_steps=300, checkpoint_steps=50, checkpoint_seconds=1e9, check_every=100, stop_on_convergence=False
)
DYNESTY = dict(nlive=50, dlogz=0.5, checkpoint_seconds=0.02)


def jla_diagonal(public_data: Path) -> Dataset:
    """JLA binned with the square roots of its covariance's diagonal as errors."""
    jla = public_data / "jla"
    full = load_dataset(
        "jla",
        {
            "kind": "sn",
            "format": "jla_binned",
            "path": str(jla / "jla_mub.txt"),
            "cov": str(jla / "jla_mub_covmatrix.txt"),
        },
    )
    return Dataset("jla", "sn", full.z, full.values, sigma=np.sqrt(np.diag(full.cov)), sha256=full.sha256)


@pytest.fixture(scope="module")
def posterior(public_data) -> Posterior:
    return Posterior(get_model("lcdm"), [jla_diagonal(public_data)])


class Log(list):
    """A log callback that keeps its messages."""

    def __call__(self, message):
        self.append(str(message))

    def has(self, text: str) -> bool:
        return any(text in m for m in self)


def run_emcee_in(directory: Path, posterior, log=None, **overrides):
    """run_emcee with checkpoint ``directory/ck`` and chain ``directory/chain.h5``; returns its result."""
    settings = EmceeSettings(**{**EMCEE, **overrides})
    log = log if log is not None else Log()
    fingerprint = make_fingerprint(posterior, "emcee", settings.chain_settings())
    with CheckpointSession(directory / "ck", fingerprint, log=log) as session:
        return run_emcee(posterior, settings, session, directory / "chain.h5", log=log)


def run_dynesty_in(directory: Path, posterior, log=None, **overrides):
    settings = DynestySettings(**{**DYNESTY, **overrides})
    log = log if log is not None else Log()
    fingerprint = make_fingerprint(posterior, "dynesty", settings.chain_settings())
    with CheckpointSession(directory / "ck", fingerprint, log=log) as session:
        return run_dynesty(posterior, settings, session, log=log)


def chain_arrays(path: Path) -> dict:
    backend = emcee.backends.HDFBackend(str(path), read_only=True)
    return {"chain": backend.get_chain(), "log_prob": backend.get_log_prob(), "accepted": backend.accepted}


def assert_same_chain(a: dict, b: dict) -> None:
    for key in a:
        assert a[key].shape == b[key].shape and a[key].tobytes() == b[key].tobytes(), f"{key} differs"


def segment_files(directory: Path) -> list[Path]:
    return sorted((directory / "ck" / "segments").glob("seg_*.npz"))


def generations(directory: Path) -> list[Path]:
    return sorted((directory / "ck" / "generations").glob("state_*.pkl"))


def damage(path: Path, how: str) -> None:
    data = bytearray(path.read_bytes())
    if how == "truncated":
        path.write_bytes(bytes(data[: len(data) // 2]))
    else:
        data[len(data) // 2] ^= 0x01
        path.write_bytes(bytes(data))


@pytest.fixture(scope="module")
def emcee_reference(posterior, tmp_path_factory) -> dict:
    """The uninterrupted chain every damaged run must reproduce."""
    directory = tmp_path_factory.mktemp("emcee_reference")
    run_emcee_in(directory, posterior)
    return chain_arrays(directory / "chain.h5")


# --- the store itself --------------------------------------------------------


def test_commit_is_verified_and_any_damage_is_detected(tmp_path):
    path = tmp_path / "f.bin"
    commit(path, b"checkpoint bytes" * 100)
    assert verified(path) and (tmp_path / "f.bin.sha256").exists()
    for how in ("truncated", "flipped"):
        commit(path, b"checkpoint bytes" * 100)
        damage(path, how)
        assert not verified(path), how
    commit(path, b"checkpoint bytes")
    (tmp_path / "f.bin.sha256").unlink()
    assert not verified(path)


def test_a_sidecar_that_is_not_a_checksum_is_damage(tmp_path):
    path = tmp_path / "f.bin"
    commit(path, b"checkpoint bytes")
    (tmp_path / "f.bin.sha256").write_bytes(b"\xff\xfe\x00garbage")  # it raised UnicodeDecodeError
    assert not verified(path)


def refused_to_read(monkeypatch, path: Path) -> None:
    """The system refuses to read ``path`` (EACCES), as for a file of another user or mode 000 (root reads any)."""
    real = janusfit.sampling.store.sha256_file

    def sha256_file(p, *args, **kwargs):
        if Path(p) == path:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real(p, *args, **kwargs)

    monkeypatch.setattr(janusfit.sampling.store, "sha256_file", sha256_file)


def test_quarantine_keeps_every_copy_even_of_the_same_name(tmp_path):
    log = Log()
    path = tmp_path / "state_000001.pkl"
    kept = []
    for content in (b"first", b"second"):
        commit(path, content)
        kept.append(quarantine(path, "fails its checksum", log))
    assert not path.exists() and kept[0] != kept[1]
    assert [p.read_bytes() for p in kept] == [b"first", b"second"]
    assert all(Path(f"{p.parent / 'state_000001.pkl.sha256'}{p.name[len(path.name) :]}").exists() for p in kept)
    assert log.has("fails its checksum; moved aside to")


def test_clean_partial_removes_only_cut_writes(tmp_path):
    commit(tmp_path / "seg_a.npz", b"good")
    (tmp_path / "seg_b.npz.sha256").write_text("0" * 64)  # sidecar whose file never arrived
    (tmp_path / ".seg_c.npz.x1y2.tmp.npz").write_bytes(b"half")  # temporary file of a killed write
    clean_partial(tmp_path, "seg_*.npz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["seg_a.npz", "seg_a.npz.sha256"]


# --- emcee: a damaged newest segment -----------------------------------------


@pytest.mark.parametrize("how", ["truncated", "flipped", "truncated_with_its_checksum"])
def test_damaged_newest_segment_resumes_from_the_previous_one(tmp_path, posterior, emcee_reference, how):
    """A segment cut short whose checksum matches (its sidecar written again) is not a zip np.load reads:
    it stopped the job with a BadZipFile traceback."""
    run_emcee_in(tmp_path, posterior, max_steps=200)  # a run cut at step 200 ...
    newest = segment_files(tmp_path)[-1]
    assert newest.name == "seg_0000000150_0000000200.npz"
    if how == "truncated_with_its_checksum":
        commit(newest, newest.read_bytes()[:-100])
    else:
        damage(newest, how)  # ... whose last checkpoint write was torn
    log = Log()
    result = run_emcee_in(tmp_path, posterior, log=log)

    assert result.resumes == [150]
    kept = list((tmp_path / "ck/segments/quarantine").glob(f"{newest.name}.[0-9]*"))
    assert len(kept) == 1 and list(kept[0].parent.glob(f"{newest.name}.sha256.[0-9]*"))
    assert log.has(f"checkpoint file '{newest}' fails its checksum or cannot be read; moved aside to '{kept[0]}'")
    assert log.has("resuming from the good segments before it, at step 150")
    assert_same_chain(chain_arrays(tmp_path / "chain.h5"), emcee_reference)


def test_a_segment_the_system_will_not_read_is_named_and_nothing_is_set_aside(
    tmp_path, posterior, emcee_reference, monkeypatch
):
    """It was quarantined as damaged with every segment after it: the chain resumed from an earlier step, the
    work of the later segments set aside, for a file whose bytes were good."""
    run_emcee_in(tmp_path, posterior, max_steps=200)
    before = segment_files(tmp_path)
    refused_to_read(monkeypatch, before[1])
    with pytest.raises(
        CheckpointError, match=rf"checkpoint file '{before[1]}' cannot be read \(Permission denied\)"
    ) as err:
        run_emcee_in(tmp_path, posterior)
    assert segment_files(tmp_path) == before and not (tmp_path / "ck/segments/quarantine").exists()
    # Recorded as a refusal, which status shows: a rerun fails the same way until it is mended.
    assert json.loads(refusal_path(tmp_path / "ck").read_text())["message"] == str(err.value)
    monkeypatch.undo()  # read access given back: it resumes where it was
    assert run_emcee_in(tmp_path, posterior).resumes == [200]
    assert not refusal_path(tmp_path / "ck").exists()
    assert_same_chain(chain_arrays(tmp_path / "chain.h5"), emcee_reference)


def test_damaged_middle_segment_sets_every_later_one_aside(tmp_path, posterior, emcee_reference):
    run_emcee_in(tmp_path, posterior, max_steps=200)
    damage(segment_files(tmp_path)[1], "flipped")  # seg 50-100
    log = Log()
    result = run_emcee_in(tmp_path, posterior, log=log)
    assert result.resumes == [50]
    quarantined = sorted(p.name.split(".npz")[0] for p in (tmp_path / "ck/segments/quarantine").glob("*.npz.[0-9]*"))
    assert quarantined == ["seg_0000000050_0000000100", "seg_0000000100_0000000150", "seg_0000000150_0000000200"]
    assert log.has("comes after a missing or bad segment")
    assert log.has("resuming from the good segments before it, at step 50")
    assert_same_chain(chain_arrays(tmp_path / "chain.h5"), emcee_reference)


@pytest.mark.parametrize("damaged", [1, 0])
def test_resumes_of_segments_set_aside_leave_the_record(tmp_path, posterior, emcee_reference, damaged):
    """The audit's case: a session that resumed at step 100 and whose segments were then set aside stayed in
    the record, so summary.json and the report said "resumed 2x (from 100, 50)", or "from 100" of a chain
    that started afresh."""
    run_emcee_in(tmp_path, posterior, max_steps=100)
    assert run_emcee_in(tmp_path, posterior, max_steps=200).resumes == [100]
    damage(segment_files(tmp_path)[damaged], "flipped")  # seg 50-100, or 0-50: every one after it goes too
    result = run_emcee_in(tmp_path, posterior)
    assert result.resumes == ([50] if damaged else [])
    assert_same_chain(chain_arrays(tmp_path / "chain.h5"), emcee_reference)


def test_interrupted_by_sigterm_resumes_bit_for_bit(tmp_path, posterior, emcee_reference):
    """A real SIGTERM mid-run: a checkpoint is written, the resumed chain is the uninterrupted one."""

    class StopAfter(Log):
        def __call__(self, message):
            super().__call__(message)
            if "emcee step 100/" in str(message):
                os.kill(os.getpid(), signal.SIGTERM)

    with pytest.raises(Interrupted, match="stopped by SIGTERM at iteration 100 after writing a checkpoint") as stop:
        run_emcee_in(tmp_path, posterior, log=StopAfter())
    stopped_at = stop.value.iteration
    assert segment_files(tmp_path)[-1].name == f"seg_0000000050_{stopped_at:010d}.npz"
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # the session gave the handler back
    result = run_emcee_in(tmp_path, posterior)
    assert result.resumes == [stopped_at]
    assert_same_chain(chain_arrays(tmp_path / "chain.h5"), emcee_reference)


class SignalTwiceAfter(Posterior):
    """A posterior that sends this process ``signum`` twice, mid-segment, at its ``n``-th call."""

    n = 10**9
    signum = signal.SIGTERM

    def __call__(self, theta):
        type(self).n -= 1
        if type(self).n == 0:
            os.kill(os.getpid(), type(self).signum)
            os.kill(os.getpid(), type(self).signum)
        return super().__call__(theta)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_repeated_sigterm_still_writes_the_checkpoint_a_repeated_sigint_stops_at_once(
    tmp_path, public_data, emcee_reference, signum
):
    """SLURM's time limit sends SIGTERM twice (to the job step, and through srun); Ctrl-C twice means "now"."""
    SignalTwiceAfter.n, SignalTwiceAfter.signum = 150, signum  # two calls a step: in the segment 50-100
    signalled = SignalTwiceAfter(get_model("lcdm"), [jla_diagonal(public_data)])
    log = Log()
    with pytest.raises(Interrupted) as stop:
        run_emcee_in(tmp_path, signalled, log=log)
    SignalTwiceAfter.n = 10**9
    stopped_at, last = stop.value.iteration, segment_files(tmp_path)[-1].name
    if signum == signal.SIGTERM:  # a checkpoint where it stopped, said before the handlers are given back
        assert 50 < stopped_at < 100 and last == f"seg_0000000050_{stopped_at:010d}.npz"
        assert log[-1] == f"wrote a checkpoint at iteration {stopped_at} after SIGTERM; stopping"
        resumed_from = stopped_at
    else:  # at once; the last periodic checkpoint is kept
        assert stopped_at == -1 and last == "seg_0000000000_0000000050.npz"
        resumed_from = 50
    result = run_emcee_in(tmp_path, Posterior(get_model("lcdm"), [jla_diagonal(public_data)]))
    assert result.resumes == [resumed_from]
    assert_same_chain(chain_arrays(tmp_path / "chain.h5"), emcee_reference)


# --- dynesty: damaged generations and untrusted pickles ----------------------


class SigtermAfter(Posterior):
    """A posterior that sends this process SIGTERM after ``n`` dynesty likelihood calls."""

    n = 10**9

    def loglike_one(self, theta):
        type(self).n -= 1
        if type(self).n == 0:
            os.kill(os.getpid(), signal.SIGTERM)
        return super().loglike_one(theta)


def interrupted_dynesty(directory: Path, public_data, calls: int, **overrides) -> None:
    SigtermAfter.n = calls
    posterior = SigtermAfter(get_model("lcdm"), [jla_diagonal(public_data)])
    # A checkpoint at every iteration: the generations on disk when SIGTERM
    # arrives are then counted in calls, not in how fast the machine ran them.
    with pytest.raises(Interrupted, match="stopped by SIGTERM at iteration"):
        run_dynesty_in(directory, posterior, **{"checkpoint_seconds": 0, **overrides})
    SigtermAfter.n = 10**9


@pytest.fixture(scope="module")
def dynesty_reference(posterior, tmp_path_factory):
    return run_dynesty_in(tmp_path_factory.mktemp("dynesty_reference"), posterior)[0]


@pytest.mark.parametrize("how", ["truncated", "flipped"])
def test_damaged_newest_generation_falls_back_to_the_previous(tmp_path, posterior, public_data, dynesty_reference, how):
    interrupted_dynesty(tmp_path, public_data, calls=600)
    older, newest = generations(tmp_path)
    previous_it = dynesty.NestedSampler.restore(str(older)).it
    damage(newest, how)
    log = Log()
    result, _ = run_dynesty_in(tmp_path, posterior, log=log)
    assert result.resumes == [previous_it]
    assert len(list((tmp_path / "ck/generations/quarantine").glob(f"{newest.name}.[0-9]*"))) == 1
    assert log.has(f"checkpoint file '{newest}' fails its checksum; moved aside")
    assert log.has(f"resuming from the previous generation, '{older.name}'")
    combined = np.hypot(result.logz_err, dynesty_reference.logz_err)
    assert abs(result.logz - dynesty_reference.logz) < 3 * combined


def test_a_generation_the_system_will_not_read_is_named_and_nothing_is_set_aside(
    tmp_path, posterior, public_data, monkeypatch
):
    interrupted_dynesty(tmp_path, public_data, calls=600)
    before = generations(tmp_path)
    refused_to_read(monkeypatch, before[-1])
    with pytest.raises(CheckpointError, match=rf"checkpoint file '{before[-1]}' cannot be read \(Permission denied\)"):
        run_dynesty_in(tmp_path, posterior)
    assert generations(tmp_path) == before and not (tmp_path / "ck/generations/quarantine").exists()


def test_every_generation_damaged_starts_afresh_and_says_so(tmp_path, posterior, public_data):
    """The audit's case: the log said twice "the previous generation is used" where none was left."""
    interrupted_dynesty(tmp_path, public_data, calls=600)
    interrupted_dynesty(tmp_path, public_data, calls=600)  # resumed, then stopped again: its resume is recorded
    for path in generations(tmp_path):
        damage(path, "flipped")
    log = Log()
    result, _ = run_dynesty_in(tmp_path, posterior, log=log)
    assert result.resumes == []  # the second audit's case: the resume of work set aside stayed
    assert log.has("no checkpoint generation is left: the run starts afresh from iteration 0")
    assert not log.has("resuming from the previous generation")


def assert_same_dynesty_run(a: tuple, b: tuple) -> None:
    """Two ``run_dynesty`` results (result, samples): the same iterations, ln Z and samples, bit for bit."""
    (result_a, samples_a), (result_b, samples_b) = a, b
    keys = ("n_iter", "n_calls", "logz", "logz_err", "logz_err_running", "information", "complete", "dlogz_remaining")
    for key in keys:
        assert getattr(result_a, key) == getattr(result_b, key), key
    for key in samples_a:
        assert samples_a[key].tobytes() == samples_b[key].tobytes(), key


# JLA ΛCDM with 50 live points reaches dlogz 0.5 after 185 iterations (seed 42).
MAXITER = 100


def test_maxiter_counts_iterations_over_resumes(tmp_path, posterior, public_data):
    """A run cut by SIGTERM and resumed stops at maxiter in all, as an uninterrupted run does, bit for bit.

    dynesty's ``sample(maxiter=m)`` runs m + 1 iterations per call: passed as
    it is at each resume, the resumed run ran maxiter + 1 more from where it
    resumed.
    """
    uninterrupted = run_dynesty_in(tmp_path / "uninterrupted", posterior, maxiter=MAXITER)
    interrupted_dynesty(tmp_path / "cut", public_data, calls=100, maxiter=MAXITER)
    log = Log()
    resumed = run_dynesty_in(tmp_path / "cut", posterior, log=log, maxiter=MAXITER)
    assert 1 < resumed[0].resumes[0] < MAXITER
    assert_same_dynesty_run(resumed, uninterrupted)
    assert resumed[0].n_iter == MAXITER
    assert resumed[0].complete is False and resumed[0].dlogz_remaining > DYNESTY["dlogz"]
    assert log.has(f"dynesty INCOMPLETE: stopped at iteration {MAXITER} by dynesty.maxiter = {MAXITER}")


def test_a_run_stopped_by_maxiter_finishes_as_an_unlimited_run_once_maxiter_is_removed(
    tmp_path, posterior, dynesty_reference
):
    run_dynesty_in(tmp_path, posterior, maxiter=MAXITER)
    result, _ = run_dynesty_in(tmp_path, posterior)
    assert result.resumes == [MAXITER + 1]
    assert result.complete is True and result.dlogz_remaining < DYNESTY["dlogz"]
    assert (result.n_iter, result.logz) == (dynesty_reference.n_iter, dynesty_reference.logz)


@pytest.mark.parametrize(
    "before, after, restarted_from",
    [
        ([{}], {"maxiter": MAXITER}, "the seed"),
        ([{}], {"dlogz": 2.0}, "the seed"),
        ([{"maxiter": MAXITER}, {}], {"maxiter": 150}, f"its earlier generation at {MAXITER} iterations"),
        ([{"maxiter": MAXITER}, {}], {"maxiter": 50}, "the seed"),
    ],
    ids=["smaller_maxiter", "looser_dlogz", "from_an_earlier_generation", "resumed_before_then_from_the_seed"],
)
def test_a_checkpoint_past_the_new_stop_gives_the_run_from_scratch(tmp_path, posterior, before, after, restarted_from):
    """A finished run (185 iterations) rerun with a stop it went past: the result of a run from scratch, bit for bit.

    It resumed its checkpoint and kept its 185 iterations, labelled with the
    new stop (maxiter 100: complete, where a run from scratch stops at 100,
    incomplete). The checkpoints are written only at the end of each run
    here, so the generations on disk are those ``before`` made, on any machine.
    """
    for settings in before:
        run_dynesty_in(tmp_path / "rerun", posterior, checkpoint_seconds=1e9, **settings)
    log = Log()
    rerun = run_dynesty_in(tmp_path / "rerun", posterior, log=log, checkpoint_seconds=1e9, **after)
    scratch = run_dynesty_in(tmp_path / "scratch", posterior, **after)
    assert_same_dynesty_run(rerun, scratch)
    stop = (
        f"maxiter {after['maxiter']}"
        if "maxiter" in after
        else f"dlogz {after['dlogz']}, reached after {scratch[0].n_iter} iterations"
    )
    assert log.has(
        f"dynesty checkpoint at 185 iterations is past the new stop ({stop}): restarted from {restarted_from}"
    )
    # Its resumes are those of the result's own history: the resume at 101 that made the 185 iterations is not.
    assert rerun[0].resumes == ([] if restarted_from == "the seed" else [MAXITER + 1])


def dynamic_run(directory: Path, posterior, log=None, checkpoint_seconds=3.0):
    """A dynamic dynesty run as the workflow makes it: a signal stops it at once (``graceful=False``).

    About 53,000 likelihood calls (its batches have dynesty's default 500 live
    points) and 14,000 iterations, 20–30 s here, and 20 s more for its ln Z
    error; checkpoints every 3 s, since each pickles the whole run (0.2–0.3 s
    once past its first batches; every 0.5 s, they were a third of its time).
    """
    settings = DynestySettings(**{**DYNESTY, "method": "dynamic", "checkpoint_seconds": checkpoint_seconds})
    log = log if log is not None else Log()
    fingerprint = make_fingerprint(posterior, "dynesty", settings.chain_settings())
    with CheckpointSession(directory / "ck", fingerprint, log=log, graceful=False) as session:
        return run_dynesty(posterior, settings, session, log=log)


class SigtermOnceCheckpointed(Posterior):
    """A posterior that sends this process SIGTERM at the first likelihood call after ``n`` calls that
    finds a periodic checkpoint in ``directory``: dynesty times its saves, so a fast machine could make
    ``n`` calls before the first one."""

    n = 10**9
    directory = Path()

    def loglike_one(self, theta):
        type(self).n -= 1
        if type(self).n <= 0 and generations(self.directory):
            type(self).n = 10**9
            os.kill(os.getpid(), signal.SIGTERM)
        return super().loglike_one(theta)


@pytest.fixture(scope="module")
def dynamic_resumed(tmp_path_factory, posterior, public_data):
    """A dynamic run stopped by SIGTERM past 20,000 calls and resumed: (the class its checkpoint restores as, result)."""
    directory = tmp_path_factory.mktemp("dynamic") / "cut"
    SigtermOnceCheckpointed.n, SigtermOnceCheckpointed.directory = 20000, directory
    with pytest.raises(Interrupted):
        dynamic_run(directory, SigtermOnceCheckpointed(get_model("lcdm"), [jla_diagonal(public_data)]))
    SigtermOnceCheckpointed.n = 10**9
    stored = type(dynesty.NestedSampler.restore(str(generations(directory)[-1]))).__name__
    return stored, dynamic_run(directory, posterior)[0]


def test_a_dynamic_run_stopped_by_sigterm_resumes_from_its_stored_checkpoint(dynamic_resumed, dynesty_reference):
    stored, result = dynamic_resumed
    # Its periodic saves went to the generation store as janusfit's own sampler class.
    assert stored == "_StoredDynamicSampler"
    assert len(result.resumes) == 1
    assert result.complete is True and result.dlogz_remaining is None
    # Against the static run: the same evidence, within errors.
    assert abs(result.logz - dynesty_reference.logz) < 3 * np.hypot(result.logz_err, dynesty_reference.logz_err)


def test_a_dynamic_run_is_given_the_time_and_memory_of_the_iterations_it_takes(dynamic_resumed, posterior):
    """The estimates counted a static run's iterations, 260–360 here: the dynamic sampler's batches made 14,000
    (its posterior's effective sample size reaching dynesty's target), and a cluster's time limit 40–54 times too
    short stopped the job again and again."""
    _, result = dynamic_resumed
    settings = DynestySettings(**{**DYNESTY, "method": "dynamic"})
    points = dynesty_iterations(settings.nlive, posterior.ndim, DEFAULT_INFORMATION, settings.dlogz, method="dynamic")
    static = dynesty_iterations(settings.nlive, posterior.ndim, DEFAULT_INFORMATION, settings.dlogz)
    assert static < result.n_iter / 10 and result.n_iter <= points <= 2 * result.n_iter
    # The time limit: at least the run's iterations times their own work, at free likelihood calls.
    minutes = estimate_runtime_dynesty(
        0.0, settings.nlive, posterior.ndim, dlogz=settings.dlogz, method="dynamic", overhead_s=0.0
    )
    assert minutes * 60 >= result.n_iter * DYNESTY_ITERATION_S
    assert (
        estimate_dynesty(settings.nlive, posterior.ndim, 31, True, method="dynamic").total_mb
        > estimate_dynesty(settings.nlive, posterior.ndim, 31, True).total_mb
    )


def test_a_dynamic_checkpoint_is_not_resumed_under_another_dlogz(tmp_path, posterior):
    """The dynamic sampler's dlogz is dynesty's dlogz_init, which changes its draws.

    Left out of the fingerprint, a finished run (JLA binned, dlogz 0.5, ln Z
    39.0747) resumed under dlogz 0.01 gave its old ln Z as that of dlogz 0.01
    (39.1547 from scratch). The checkpoint here holds only its fingerprint:
    the refusal comes before any sampling.
    """
    dynamic = {**DYNESTY, "method": "dynamic"}
    with CheckpointSession(
        tmp_path / "ck", make_fingerprint(posterior, "dynesty", DynestySettings(**dynamic).chain_settings()), log=Log()
    ):
        pass
    with pytest.raises(FingerprintError) as err:
        run_dynesty_in(tmp_path, posterior, **{**dynamic, "dlogz": 0.01})
    assert str(err.value).splitlines()[:2] == [
        f"the checkpoint in '{tmp_path / 'ck'}' was made with different inputs:",
        "  settings.dlogz: 0.5 -> 0.01",
    ]
    # on_change: restart sets it aside, as for any setting that changes the draws.
    log = Log()
    changed = DynestySettings(**{**dynamic, "dlogz": 0.01})
    with CheckpointSession(
        tmp_path / "ck", make_fingerprint(posterior, "dynesty", changed.chain_settings()), on_change="restart", log=log
    ):
        pass
    assert log.has(
        "on_change is 'restart' and it was made with different inputs (settings.dlogz: 0.5 -> 0.01): "
        "the old checkpoint was moved to"
    )
    assert len(list(tmp_path.glob("ck.superseded-*"))) == 1


class Marker:
    """Unpickling this creates the directory ``path``: proof that a file was loaded."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (os.mkdir, (self.path,))


@pytest.mark.parametrize("method", ["static", "dynamic"])
def test_checkpoints_slower_than_their_interval_leave_sampling_between_them(
    tmp_path, posterior, public_data, monkeypatch, method
):
    """The audit's case: pickles longer to write than checkpoint_seconds were written at every iteration
    (10 min of saves for a 5 s run), the interval being timed from the start of the last save.

    The clock stands still while sampling and moves 1 s per save: every save
    outlasts the interval, counted in saves rather than seconds. dynesty's
    dynamic sampler asks for a save at every iteration past the interval; it
    is stopped by SIGTERM in its batches, at 6,000 of its 53,000 calls (the
    whole run is 35 s here, most of it batches and its ln Z error).
    """
    clock = {"t": 0.0, "saves": 0, "asked": 0}
    save = dynesty_runner.GenerationStore.save

    def slow_save(self, sampler):
        save(self, sampler)
        clock["saves"] += 1
        clock["t"] += 1.0

    monkeypatch.setattr(dynesty_runner, "_clock", lambda: clock["t"])
    monkeypatch.setattr(dynesty_runner.GenerationStore, "save", slow_save)
    if method == "static":
        run_dynesty_in(tmp_path, posterior, checkpoint_seconds=1e-6)
        iterations = json.loads((tmp_path / "ck" / PROGRESS_JSON).read_text())["iteration"]
        assert iterations > 100 and clock["saves"] <= 3
        return
    sampler = dynesty_runner._stored_dynamic_sampler()
    ask = sampler.save

    def asked(self, fname):
        clock["asked"] += 1
        ask(self, fname)

    monkeypatch.setattr(sampler, "save", asked)
    SigtermAfter.n = 6000
    with pytest.raises(Interrupted, match="stopped by SIGTERM"):
        dynamic_run(tmp_path, SigtermAfter(get_model("lcdm"), [jla_diagonal(public_data)]), checkpoint_seconds=1e-6)
    SigtermAfter.n = 10**9
    assert clock["asked"] > 100 and clock["saves"] <= 3


@pytest.mark.parametrize("sidecar", ["wrong", "missing"])
def test_a_pickle_failing_its_checksum_is_never_loaded(tmp_path, posterior, public_data, sidecar):
    interrupted_dynesty(tmp_path, public_data, calls=600)
    older, newest = generations(tmp_path)
    previous_it = dynesty.NestedSampler.restore(str(older)).it
    marker = tmp_path / "UNPICKLED"
    newest.write_bytes(pickle.dumps({"sampler": Marker(marker), "version": dynesty.__version__, "format_version": 1}))
    if sidecar == "missing":
        newest.with_name(newest.name + ".sha256").unlink()
    log = Log()
    result, _ = run_dynesty_in(tmp_path, posterior, log=log)
    assert not marker.exists()
    assert result.resumes == [previous_it]
    assert log.has(f"checkpoint file '{newest}' fails its checksum; moved aside")
    # The file is kept for inspection, unloaded.
    (kept,) = (tmp_path / "ck/generations/quarantine").glob(f"{newest.name}.[0-9]*")
    assert b"mkdir" in kept.read_bytes()


def repickled(path: Path, **changes) -> None:
    """Generation ``path`` as another dynesty would have written it: its saved record with ``changes``, its checksum good."""
    with open(path, "rb") as fh:
        record = pickle.load(fh)
    commit(path, pickle.dumps({**record, **changes}))


def files_under(directory: Path) -> dict:
    return {p.relative_to(directory): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def test_a_checkpoint_pickled_by_another_dynesty_is_refused_naming_both_versions(tmp_path, posterior, public_data):
    """dynesty restores another version's pickles with a warning that it is "*NOT* guaranteed to work":
    the run went on, spliced from two versions' samplers, its warning lost in the job's log."""
    interrupted_dynesty(tmp_path, public_data, calls=600)
    for path in generations(tmp_path):
        repickled(path, version="2.1.4")
    fingerprint = tmp_path / "ck/fingerprint.json"
    fingerprint.write_text(json.dumps({**json.loads(fingerprint.read_text()), "sampler_package": {"dynesty": "2.1.4"}}))
    before = files_under(tmp_path / "ck")
    with pytest.raises(FingerprintError) as err:
        run_dynesty_in(tmp_path, posterior)
    message = str(err.value)
    assert f"\n  sampler_package.dynesty: '2.1.4' -> '{dynesty.__version__}'\n" in message
    assert (
        "The checkpoint holds dynesty's own objects, pickled by dynesty 2.1.4, which only that version is sure to "
        "restore: installing it (pip install dynesty==2.1.4) resumes the checkpoint." in message
    )
    assert files_under(tmp_path / "ck") == before
    settings = DynestySettings(**DYNESTY)
    log = Log()
    fingerprint = make_fingerprint(posterior, "dynesty", settings.chain_settings())
    with CheckpointSession(tmp_path / "ck", fingerprint, on_change="restart", log=log) as session:
        result, _ = run_dynesty(posterior, settings, session, log=log)
    (old,) = tmp_path.glob("ck.superseded-*")
    assert files_under(old) == before and result.resumes == [] and result.complete


def test_a_checkpoint_from_before_the_package_version_was_recorded_resumes(tmp_path, posterior, public_data):
    interrupted_dynesty(tmp_path, public_data, calls=600)
    fingerprint = tmp_path / "ck/fingerprint.json"
    recorded = json.loads(fingerprint.read_text())
    assert recorded["sampler_package"] == {"dynesty": dynesty.__version__}
    fingerprint.write_text(json.dumps({k: v for k, v in recorded.items() if k != "sampler_package"}))
    result, _ = run_dynesty_in(tmp_path, posterior)
    assert len(result.resumes) == 1 and result.complete


def test_a_generation_dynesty_cannot_restore_is_named_and_left_in_place(tmp_path, posterior, public_data):
    """Bytes that pass their checksum are as written: a pickle dynesty refuses is no damage to set aside.
    It stopped the job with dynesty's RuntimeError traceback."""
    interrupted_dynesty(tmp_path, public_data, calls=600)
    newest = generations(tmp_path)[-1]
    repickled(newest, format_version=2)
    before = files_under(tmp_path / "ck")
    with pytest.raises(CheckpointError) as err:
        run_dynesty_in(tmp_path, posterior)
    assert json.loads(refusal_path(tmp_path / "ck").read_text())["message"] == str(err.value)
    assert str(err.value).startswith(
        f"checkpoint generation '{newest}' passed its checksum, but this dynesty ({dynesty.__version__}) cannot "
        "restore it (RuntimeError: Incorrect format version); it and the checkpoint were left in place."
    )
    assert f"move '{tmp_path / 'ck'}' aside and rerun Snakemake" in str(err.value)
    assert files_under(tmp_path / "ck") == before


def test_a_signal_while_a_generation_is_restored_stops_the_run_as_a_signal(
    tmp_path, posterior, public_data, monkeypatch
):
    """A session that stops at once on a signal (a dynamic run's) raises Interrupted wherever it lands:
    landing in a restore, it must not read as a generation dynesty cannot restore."""
    interrupted_dynesty(tmp_path, public_data, calls=600)
    restore = dynesty.NestedSampler.restore

    def signalled(fname, pool=None):
        os.kill(os.getpid(), signal.SIGTERM)
        return restore(fname, pool)

    monkeypatch.setattr(dynesty.NestedSampler, "restore", staticmethod(signalled))
    settings = DynestySettings(**DYNESTY)
    before = files_under(tmp_path / "ck")
    fingerprint = make_fingerprint(posterior, "dynesty", settings.chain_settings())
    with pytest.raises(Interrupted, match="stopped by SIGTERM"):
        with CheckpointSession(tmp_path / "ck", fingerprint, log=Log(), graceful=False) as session:
            run_dynesty(posterior, settings, session, log=Log())
    assert files_under(tmp_path / "ck") == before


# --- a full disk during a checkpoint write -----------------------------------


@contextlib.contextmanager
def full_disk(directory: Path, monkeypatch):
    """Yield ``fill()``, which leaves almost no space under ``directory``, and its mechanism's name.

    A 1 MiB tmpfs is mounted at ``directory`` when this process may mount
    (root); ``fill()`` then writes a filler file until the disk is full,
    leaving two 4 KiB pages free. Where mounting is not permitted, the disk is
    simulated: from ``fill()`` on, every fsync in janusfit.atomic and every
    dynesty pickle write raises ENOSPC.
    """
    directory.mkdir()
    mounted = (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(directory)], capture_output=True
        ).returncode
        == 0
    )
    filler = directory / "filler"

    def fill_tmpfs():
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
        try:
            while True:
                os.write(fd, b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
        finally:
            os.close(fd)
        os.truncate(filler, filler.stat().st_size - 8192)

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def fill_simulated():
        monkeypatch.setattr(janusfit.atomic.os, "fsync", no_space)
        monkeypatch.setattr("janusfit.sampling.dynesty_runner.save_sampler", no_space)

    try:
        yield (fill_tmpfs, "tmpfs") if mounted else (fill_simulated, "simulated ENOSPC")
    finally:
        monkeypatch.undo()
        if mounted:
            subprocess.run(["umount", str(directory)], check=True)


def free_disk(directory: Path, monkeypatch) -> None:
    (directory / "filler").unlink(missing_ok=True)
    monkeypatch.undo()


def written_file(message: str) -> Path:
    """The file a "no space left" error names."""
    prefix = "no space left on the device while writing '"
    assert message.startswith(prefix), message
    return Path(message[len(prefix) :].split("'")[0])


def test_full_disk_stops_emcee_with_the_file_named_and_the_checkpoint_resumable(
    tmp_path, posterior, emcee_reference, monkeypatch
):
    disk = tmp_path / "disk"
    with full_disk(disk, monkeypatch) as (fill, how):
        run_emcee_in(disk, posterior, max_steps=100)
        good = segment_files(disk)
        fill()
        with pytest.raises(JanusfitError) as err:
            run_emcee_in(disk, posterior)
        named = written_file(str(err.value))
        print(f"full disk ({how}): {err.value}")
        assert named.parent in (disk / "ck", disk / "ck/segments") and "is intact" in str(err.value)
        assert segment_files(disk) == good and all(verified(p) for p in good)
        free_disk(disk, monkeypatch)
        result = run_emcee_in(disk, posterior)
        assert result.resumes[-1] == 100
        assert_same_chain(chain_arrays(disk / "chain.h5"), emcee_reference)


def test_full_disk_stops_dynesty_with_the_file_named_and_the_checkpoint_resumable(
    tmp_path, posterior, public_data, dynesty_reference, monkeypatch
):
    disk = tmp_path / "disk"
    with full_disk(disk, monkeypatch) as (fill, how):
        interrupted_dynesty(disk, public_data, calls=400)
        good = generations(disk)
        good_it = dynesty.NestedSampler.restore(str(good[-1])).it
        fill()
        with pytest.raises(JanusfitError) as err:
            run_dynesty_in(disk, posterior)
        named = written_file(str(err.value))
        print(f"full disk ({how}): {err.value}")
        assert named.parent in (disk / "ck", disk / "ck/generations")
        assert generations(disk)[: len(good)] == good and all(verified(p) for p in good)
        free_disk(disk, monkeypatch)
        result, _ = run_dynesty_in(disk, posterior)
        assert result.resumes[-1] == good_it
        assert abs(result.logz - dynesty_reference.logz) < 3 * np.hypot(result.logz_err, dynesty_reference.logz_err)


# --- two samplers on one checkpoint ------------------------------------------

SAMPLER = textwrap.dedent('''
    """One emcee sampler on JLA (diagonal errors); it stalls while the file HOLD exists once it has a segment.

    Arguments: tests dir, shared data, checkpoint, chain, max steps, lock timeout (or none), HOLD, and
    optionally the lease timeout.
    """
    import os, sys, time
    from pathlib import Path
    sys.path.insert(0, sys.argv[1])
    from test_checkpoint_store import EMCEE, jla_diagonal
    from janusfit.errors import CheckpointError, FingerprintError, JanusfitError
    from janusfit.likelihood import Posterior
    from janusfit.models import get_model
    from janusfit.sampling.emcee_runner import EmceeSettings, run_emcee
    from janusfit.sampling.fingerprint import make_fingerprint
    from janusfit.sampling.lock import LEASE_TIMEOUT_S
    from janusfit.sampling.session import CheckpointSession

    shared, ck, chain, max_steps, timeout, hold = sys.argv[2:8]
    lease = float(sys.argv[8]) if len(sys.argv) > 8 else LEASE_TIMEOUT_S

    class Held(Posterior):
        def __call__(self, theta):
            while os.path.exists(hold) and any(Path(ck, "segments").glob("seg_*.npz")):
                time.sleep(0.01)
            return super().__call__(theta)

    posterior = Held(get_model("lcdm"), [jla_diagonal(Path(shared))])
    settings = EmceeSettings(**{**EMCEE, "max_steps": int(max_steps)})
    log = lambda message: print(message, flush=True)
    try:
        with CheckpointSession(ck, make_fingerprint(posterior, "emcee", settings.chain_settings()), log=log,
                               lock_timeout_s=float(timeout) if timeout != "none" else None,
                               lease_timeout_s=lease) as session:
            run_emcee(posterior, settings, session, chain, log=log)
    except JanusfitError as exc:
        print(exc, file=sys.stderr, flush=True)
        sys.exit(1)
''')


def start_sampler(tmp_path, public_data, name, max_steps, timeout="none"):
    script = tmp_path / "sampler.py"
    if not script.exists():
        script.write_text(SAMPLER)
    out = open(tmp_path / f"{name}.out", "w")
    err = open(tmp_path / f"{name}.err", "w")
    return subprocess.Popen(
        [
            sys.executable,
            str(script),
            str(Path(__file__).parent),
            str(public_data),
            str(tmp_path / "ck"),
            str(tmp_path / f"{name}.h5"),
            str(max_steps),
            timeout,
            str(tmp_path / "HOLD"),
        ],
        stdout=out,
        stderr=err,
        cwd=tmp_path,
    )


def wait_for(condition, what: str, timeout: float = HANG_GUARD_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def two_samplers(tmp_path_factory, public_data, posterior):
    """A holds the checkpoint (stalled after its first segment); B waits for it, C gives up after 1 s."""
    tmp = tmp_path_factory.mktemp("two_samplers")
    (tmp / "HOLD").touch()
    a = start_sampler(tmp, public_data, "a", 600)
    wait_for(lambda: list((tmp / "ck/segments").glob("seg_*.npz")) or a.poll() is not None, "A's first segment")
    b = start_sampler(tmp, public_data, "b", 900)
    c = start_sampler(tmp, public_data, "c", 900, timeout="1")
    c.wait(timeout=HANG_GUARD_S)
    wait_for(lambda: "waiting for the sampler holding" in (tmp / "b.out").read_text(), "B to wait")
    segments_while_held = segment_files(tmp)
    a_alive = a.poll() is None
    (tmp / "HOLD").unlink()
    a.wait(timeout=HANG_GUARD_S)
    b.wait(timeout=HANG_GUARD_S)
    reference = tmp / "reference"
    reference.mkdir()
    run_emcee_in(reference, posterior, max_steps=900)
    return {
        "dir": tmp,
        "a": a,
        "b": b,
        "c": c,
        "a_alive": a_alive,
        "held": segments_while_held,
        "reference": chain_arrays(reference / "chain.h5"),
    }


def test_second_sampler_waits_and_never_writes_beside_the_first(two_samplers):
    tmp, a, b = two_samplers["dir"], two_samplers["a"], two_samplers["b"]
    assert two_samplers["a_alive"] and a.returncode == 0 and b.returncode == 0, (tmp / "b.err").read_text()
    out = (tmp / "b.out").read_text()
    assert f"waiting for the sampler holding '{tmp / 'ck.lock'}' (pid {a.pid})" in out
    # B started only once A had finished: it resumed from A's last step, and the
    # segments form one unbroken sequence with no second copy of any step.
    assert "resuming from checkpoint at iteration 600" in out
    assert (tmp / "ck/resumes.json").read_text().split() == ["[", "600", "]"]
    bounds = [(int(p.name[4:14]), int(p.name[15:25])) for p in segment_files(tmp)]
    assert [s for s, _ in bounds] == [0] + [e for _, e in bounds[:-1]] and bounds[-1][1] == 900
    assert not (tmp / "ck/segments/quarantine").exists()
    reference = two_samplers["reference"]
    assert_same_chain(chain_arrays(tmp / "b.h5"), reference)
    a_chain = chain_arrays(tmp / "a.h5")
    assert a_chain["chain"].tobytes() == reference["chain"][:600].tobytes()


def test_a_checkpoint_directory_that_cannot_be_written_is_named(tmp_path, posterior):
    """The audit's case: an unwritable checkpoint directory gave a PermissionError traceback ("unexpected error")."""
    parent = tmp_path / "checkpoints"
    parent.mkdir()
    if subprocess.run(["chattr", "+i", str(parent)], capture_output=True).returncode != 0:
        pytest.skip("needs chattr +i to make a directory unwritable to root")
    try:
        fingerprint = make_fingerprint(posterior, "emcee", EmceeSettings(**EMCEE).chain_settings())
        with pytest.raises(JanusfitError) as raised, CheckpointSession(parent / "emcee", fingerprint):
            pass
    finally:
        subprocess.run(["chattr", "-i", str(parent)], check=True)
    assert str(raised.value) == (
        f"cannot write the checkpoint lock '{parent / 'emcee.lock'}' (Operation not permitted): the sampler keeps "
        f"its lock and checkpoints in '{parent}', which must be a writable directory; make it so (chmod u+w), or run "
        "the workflow where it can write"
    )


def test_a_file_where_the_checkpoint_directory_should_be_is_named(tmp_path, posterior):
    """Only PermissionError was named: a file in the directory's place gave a FileExistsError traceback."""
    parent = tmp_path / "checkpoints"
    parent.write_text("not a directory")
    fingerprint = make_fingerprint(posterior, "emcee", EmceeSettings(**EMCEE).chain_settings())
    with pytest.raises(JanusfitError) as raised, CheckpointSession(parent / "emcee", fingerprint):
        pass
    assert str(raised.value).startswith(f"cannot write the checkpoint lock '{parent / 'emcee.lock'}' (File exists)")
    assert parent.read_text() == "not a directory"


def test_second_sampler_with_a_lock_timeout_stops_with_a_checkpoint_error(two_samplers):
    tmp, a, c = two_samplers["dir"], two_samplers["a"], two_samplers["c"]
    assert c.returncode == 1
    err = (tmp / "c.err").read_text()
    assert err.startswith(f"checkpoint '{tmp / 'ck'}' is locked by another sampler (pid {a.pid}) still running")
    assert "Let it finish or stop it, then rerun." in err
    assert not (tmp / "c.h5").exists() and "resuming" not in (tmp / "c.out").read_text()
