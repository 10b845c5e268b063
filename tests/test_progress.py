"""The live progress record and figure beside emcee's checkpoint: cheap, and never able to harm a run.

The samplers run in-process on JLA binned with diagonal errors (well under a
second each), as in tests/test_checkpoint_store.py. Costs are counted in
drawings and imports, not seconds.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
import numpy as np
import pytest
from test_checkpoint_store import Log, jla_diagonal

from janusfit.likelihood import Posterior
from janusfit.models import get_model
from janusfit.sampling.dynesty_runner import DynestySettings, run_dynesty
from janusfit.sampling.emcee_runner import EmceeSettings, run_emcee
from janusfit.sampling.fingerprint import make_fingerprint
from janusfit.sampling.progress import EmceeProgress, _replace, earlier_sessions_s
from janusfit.sampling.segments import SEGMENT
from janusfit.sampling.session import CheckpointSession

EMCEE = dict(
    n_walkers=8, max_steps=600, checkpoint_steps=100, checkpoint_seconds=1e9, check_every=100, stop_on_convergence=False
)
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def posterior(public_data) -> Posterior:
    return Posterior(get_model("lcdm"), [jla_diagonal(public_data)])


def _run(directory: Path, posterior, warnings=None, **overrides):
    settings = EmceeSettings(**{**EMCEE, **overrides})
    log, warn = Log(), (warnings if warnings is not None else Log())
    fingerprint = make_fingerprint(posterior, "emcee", settings.chain_settings())
    with CheckpointSession(directory / "ck", fingerprint, log=log) as session:
        run_emcee(posterior, settings, session, directory / "chain.h5", log=log, warn=warn)
    with h5py.File(directory / "chain.h5") as f:
        return f["mcmc/chain"][:], f["mcmc/log_prob"][:]


def test_figure_and_record_beside_the_checkpoint_leave_the_chain_unchanged(tmp_path, posterior):
    with_figure = _run(tmp_path / "a", posterior, progress_figure_seconds=0.0)  # drawn at every checkpoint
    without = _run(tmp_path / "b", posterior, progress_figure=False)
    for x, y in zip(with_figure, without):
        np.testing.assert_array_equal(x, y)
    ck = tmp_path / "a" / "ck"
    assert (ck / "progress.png").read_bytes()[:8] == PNG
    assert not (tmp_path / "b" / "ck" / "progress.png").exists()
    record = json.loads((ck / "progress.json").read_text())
    assert record["iteration"] == 600 and record["final"] and record["max_steps"] == 600
    assert [it for it, _ in record["tau_history"]] == [100, 200, 300, 400, 500, 600]
    assert 0.0 < record["acceptance"] < 1.0
    assert record["stuck_walkers"] == []
    assert not list(ck.glob(".progress*"))  # no temporary file left behind


def _record(ck: Path) -> dict | None:
    """progress.json beside the checkpoint ``ck``, None before it is written."""
    path = ck / "progress.json"
    return json.loads(path.read_text()) if path.exists() else None


class _RecordWatcher:
    """The posterior, reading progress.json at each call while the chain has no segment past ``before``."""

    def __init__(self, posterior, ck: Path, before: int):
        self._posterior, self._ck, self._before = posterior, ck, before
        self.seen = []

    def __getattr__(self, name):
        return getattr(self._posterior, name)

    def __call__(self, coords):
        ends = [int(SEGMENT.match(p.name).group(2)) for p in (self._ck / "segments").glob("seg_*.npz")]
        if max(ends, default=0) <= self._before:
            self.seen.append(_record(self._ck))
        return self._posterior(coords)


def test_the_record_says_where_a_run_starts_or_resumes_before_its_first_checkpoint(tmp_path, posterior):
    """``janusfit status`` reads this record: without it, a started run showed no iteration, and a resumed one
    the previous session's record (its rate and time, so an ETA of 0 s) until its first checkpoint."""
    fresh = _RecordWatcher(posterior, tmp_path / "ck", before=0)
    _run(tmp_path, fresh, max_steps=200)
    assert any(r and (r["iteration"], r["session_start_iteration"], r["final"]) == (0, 0, False) for r in fresh.seen)
    resumed = _RecordWatcher(posterior, tmp_path / "ck", before=200)
    _run(tmp_path, resumed, max_steps=400)
    assert any(
        r and (r["iteration"], r["session_start_iteration"], r["final"]) == (200, 200, False) for r in resumed.seen
    )
    assert json.loads((tmp_path / "ck" / "progress.json").read_text())["iteration"] == 400


class _Enough(Exception):
    pass


class _DynestyRecordWatcher(Posterior):
    """A posterior reading progress.json at each dynesty likelihood call, that ends the run after ``calls`` of them."""

    ck: Path
    calls = 5
    seen: list

    def loglike_one(self, theta):
        self.seen.append(_record(self.ck))
        if len(self.seen) == self.calls:
            raise _Enough
        return super().loglike_one(theta)


def test_a_dynamic_dynesty_run_says_where_it_starts_before_its_first_checkpoint(tmp_path, public_data):
    watcher = _DynestyRecordWatcher(get_model("lcdm"), [jla_diagonal(public_data)])
    watcher.ck, watcher.seen = tmp_path / "ck", []
    settings = DynestySettings(nlive=50, dlogz=0.5, method="dynamic", checkpoint_seconds=1e9)
    with CheckpointSession(watcher.ck, make_fingerprint(watcher, "dynesty", settings.chain_settings()), log=Log()) as s:
        with pytest.raises(_Enough):
            run_dynesty(watcher, settings, s, log=Log())
    assert not list((watcher.ck / "generations").glob("state_*.pkl"))
    # No iteration done yet: dynesty's counter is at the first.
    assert [(r["iteration"], r["session_start_iteration"], r["final"]) for r in watcher.seen] == [(0, 0, False)] * 5


def test_a_stuck_walker_is_named_while_the_run_goes_on(tmp_path):
    """emcee with walker 7 held in a narrow local mode, fed segment by segment as run_emcee does."""
    from test_convergence import stuck_walker_run

    from janusfit.diagnostics import autocorr_time

    s = stuck_walker_run(seed=1)
    chain, log_prob = s.get_chain(), s.get_log_prob()
    warnings = Log()
    settings = EmceeSettings(**{**EMCEE, "max_steps": 1000, "progress_figure": False})
    progress = EmceeProgress(tmp_path, settings, ["x", "y"], warn=warnings)
    stuck_at = []
    for end in range(100, 1001, 100):
        progress.observe(chain[end - 100 : end], log_prob[end - 100 : end], np.full(32, 40))
        progress.checkpoint(end, [], autocorr_time(chain[:end]))
        stuck_at += [end] if progress.stuck else []
    record = json.loads((tmp_path / "progress.json").read_text())
    assert record["stuck_walkers"] == [7] and stuck_at and stuck_at[-1] == 1000
    # named once, before the run's end, not at every checkpoint
    (warning,) = warnings
    assert warning.startswith(f"STUCK WALKER at step {stuck_at[0]}: walker 7 sits up to ")
    assert stuck_at[0] < 1000 and "running longer will not free a stuck walker" in warning


def test_a_walker_that_stops_moving_is_named_while_the_run_goes_on(tmp_path):
    """AR(1) walkers of τ 5 with walker 4 accepting nothing after step 200: its ln p has no autocorrelation (0/0).

    That NaN made every walker's deficit NaN, and the watch named no one.
    """
    from test_convergence import ar1

    from janusfit.diagnostics import autocorr_time

    chain = ar1(2 / 3, 1000, 32, seed=4)[:, :, None]
    chain[200:, 4] = chain[200, 4]
    log_prob = -0.5 * chain[:, :, 0] ** 2
    warnings = Log()
    settings = EmceeSettings(**{**EMCEE, "max_steps": 1000, "progress_figure": False})
    progress = EmceeProgress(tmp_path, settings, ["x"], warn=warnings)
    for end in range(100, 1001, 100):
        progress.observe(chain[end - 100 : end], log_prob[end - 100 : end], np.full(32, 40))
        progress.checkpoint(end, [], autocorr_time(chain[:end]))
    assert json.loads((tmp_path / "progress.json").read_text())["stuck_walkers"] == [4]
    (warning,) = warnings
    assert warning.startswith("STUCK WALKER at step ") and ": walker 4 sits up to " in warning
    assert "; walker 4 has not moved in the last " in warning


def test_a_figure_that_cannot_be_written_is_a_warning_and_the_run_goes_on(tmp_path, posterior):
    reference = _run(tmp_path / "ref", posterior, progress_figure_seconds=0.0)
    (tmp_path / "bad" / "ck").mkdir(parents=True)
    (tmp_path / "bad" / "ck" / "progress.png").mkdir()  # a directory where the figure goes: every write fails
    warnings = Log()
    damaged = _run(tmp_path / "bad", posterior, warnings=warnings, progress_figure_seconds=0.0)
    for x, y in zip(reference, damaged):
        np.testing.assert_array_equal(x, y)
    assert len(warnings) == 1  # once, not at every checkpoint
    assert warnings[0].startswith(f"could not write progress.png in '{tmp_path / 'bad' / 'ck'}' (IsADirectoryError")
    assert warnings[0].endswith("sampling goes on, the checkpoint is not affected")
    assert json.loads((tmp_path / "bad" / "ck" / "progress.json").read_text())["final"]


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_the_figure_is_drawn_at_most_once_per_interval_and_at_the_end(tmp_path):
    settings = EmceeSettings(**{**EMCEE, "progress_figure_seconds": 60.0})
    clock = Clock()
    progress = EmceeProgress(tmp_path, settings, ["Om"], {"Om": r"$\Omega_m$"}, clock=clock)
    rng = np.random.default_rng(1)
    drawn = []
    for k in range(1, 11):  # ten checkpoints 25 s apart, from the session's start at 0 s
        clock.now += 25.0
        progress.observe(rng.normal(size=(100, 8, 1)), rng.normal(size=(100, 8)), np.full(8, 40))
        progress.checkpoint(100 * k, [(100 * j, 5.0) for j in range(1, k + 1)], [5.0], final=k == 10)
        drawn.append(progress.n_drawn)
    # Due at 75 s (the first checkpoint past 60 s since the start), then 150 s, 225 s; and at the end.
    assert drawn == [0, 0, 1, 1, 1, 2, 2, 2, 3, 4]
    # The trace kept for the figure stays bounded however long the run.
    assert len(progress._trace.array()) <= 1000


def test_a_run_shorter_than_the_interval_draws_no_figure_unless_one_is_there_to_update(tmp_path):
    settings = EmceeSettings(**{**EMCEE, "progress_figure_seconds": 60.0})
    rng = np.random.default_rng(2)
    for existing in (False, True):
        directory = tmp_path / str(existing)
        directory.mkdir()
        if existing:  # a figure an earlier session drew before it was interrupted
            (directory / "progress.png").write_bytes(b"stale")
        clock = Clock()
        progress = EmceeProgress(directory, settings, ["Om"], clock=clock)
        for k in (1, 2):
            clock.now += 10.0
            progress.observe(rng.normal(size=(100, 8, 1)), rng.normal(size=(100, 8)), np.full(8, 40))
            progress.checkpoint(100 * k, [(100, 5.0), (200, 5.0)][:k], [5.0], final=k == 2)
        assert progress.n_drawn == int(existing)
        assert (directory / "progress.png").exists() == existing
        if existing:
            assert (directory / "progress.png").read_bytes()[:8] == PNG


def test_sampling_without_the_figure_never_imports_matplotlib(tmp_path, public_data):
    code = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from pathlib import Path
        from test_progress import _run, jla_diagonal
        from janusfit.likelihood import Posterior
        from janusfit.models import get_model
        posterior = Posterior(get_model("lcdm"), [jla_diagonal(Path({str(public_data)!r}))])
        _run(Path(sys.argv[1]) / "off", posterior, progress_figure=False)
        print("matplotlib" in sys.modules)
        _run(Path(sys.argv[1]) / "on", posterior, progress_figure_seconds=0.0)
        print("matplotlib" in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]


def test_a_replacement_cut_short_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "progress.png"
    target.write_bytes(b"old figure")

    def half_then_fail(tmp):
        Path(tmp).write_bytes(b"half a fig")
        raise OSError("killed mid-write")

    with pytest.raises(OSError, match="killed mid-write"):
        _replace(target, half_then_fail)
    assert target.read_bytes() == b"old figure"
    assert [p.name for p in tmp_path.iterdir()] == ["progress.png"]


def test_earlier_sessions_are_those_of_the_runs_repeats_only(tmp_path):
    """The audit's case: a repeat set aside (``repeat-1.superseded-…``), or one of a config that ran more
    repeats, added its sessions to the runtime of today's run (memory.json, summary.json, the report)."""

    def sessions(directory, earlier_s):
        directory.mkdir(parents=True)
        (directory / "progress.json").write_text(json.dumps({"earlier_s": earlier_s}))

    ck = tmp_path / "dynesty"
    sessions(ck, 1.5)
    sessions(ck / "repeat-1", 2.25)
    sessions(ck / "repeat-1.superseded-20261204T120000-7", 1000.0)
    sessions(ck / "repeat-2", 500.0)
    sessions(ck / "repeat-10", 40.0)
    assert earlier_sessions_s(ck) == 1.5 + 2.25 + 500.0 + 40.0  # every repeat there, none set aside
    assert earlier_sessions_s(ck, repeats=2) == 1.5 + 2.25
    assert earlier_sessions_s(ck, repeats=11) == 1.5 + 2.25 + 500.0 + 40.0
    assert earlier_sessions_s(ck / "repeat-1", repeats=2) == 2.25
