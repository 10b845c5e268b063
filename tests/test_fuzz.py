"""Kill fuzzing: the workflow is killed at random moments, restarted, and must still give the right answer.

Each kill is one of: ``kill -9`` of Snakemake's process group, ``kill -9`` of
one running sampler (any job if no sampler runs), SIGTERM to the group, or
SIGINT to Snakemake alone. Snakemake is then restarted (``--unlock`` first if
it left its lock, then ``--rerun-incomplete``) until the workflow completes.
SIGINT makes Snakemake wait for its running jobs; if it has not exited after
a while it is killed and its jobs are left running as orphans, which the
checkpoint lock makes the next run wait for.

The result is compared with an uninterrupted run of the same config in another
directory: every emcee chain bit for bit, the stopping rule's n_steps, and
dynesty's log-evidence within 3x the combined error. Just before each kill the
newest committed emcee segment is noted; every later resume must start at or
after it, so no committed step is ever lost and at most one checkpoint
interval (``checkpoint.steps``) is recomputed per kill.

If a workflow completes before the kills add up (a fast machine), the next
round starts afresh in a new directory with the next seed; every round is
checked against the same reference. Budgets are counts (kills, and Snakemake
runs that end in an error no kill caused), never seconds, so a loaded machine
makes the test slower, not wrong.

Both are marked slow (``python -m pytest -m slow tests/test_fuzz.py``): the 5
kills of ``test_kill_fuzz_short`` took a minute of a default suite near its
10-minute budget on 2 cores, where the workflow tests kill and resume runs
(SIGTERM and ``kill -9``) at chosen moments.
``test_kill_fuzz`` takes the number
of kills from JANUSFIT_FUZZ_KILLS (default 50) and the random seed from
JANUSFIT_FUZZ_SEED. Both print their statistics (run pytest with ``-s``).
"""

from __future__ import annotations

import collections
import json
import os
import random
import re
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import dynesty
import numpy as np
import psutil
import pytest
from snakemake_runner import command, env, write_config
from test_checkpoint_store import assert_same_chain, chain_arrays

from janusfit.sampling.store import verified

KILL_TYPES = ("kill9_group", "kill9_sampler", "sigterm_group", "sigint_snakemake")
SIGINT_PATIENCE_S = 20  # how long SIGINT'ed Snakemake may take to finish its running jobs
MAX_FAILED_STARTS = 3  # Snakemake ending with an error, no kill having caused it, this often in a row fails the test
HANG_GUARD_S = 3600  # only a hung workflow takes this long; no verdict depends on the machine's speed


@dataclass
class Kill:
    kind: str  # what was done (kill9_sampler falls back to any job, then to the group)
    after_s: float  # since this Snakemake started
    jobs: list  # "rule/model" of every job running at the kill
    committed: dict  # emcee model -> newest committed iteration just before the kill
    resumes_before: dict  # checkpoint -> number of resumes recorded before the kill
    generation_it: dict  # dynesty model -> iteration of its newest good generation before the kill
    orphans: int = 0  # jobs left running by a Snakemake killed after SIGINT


@dataclass
class Fuzz:
    directory: Path
    models: list
    checkpoint_steps: int
    rng: random.Random
    delay_s: tuple
    kills: list = field(default_factory=list)
    kinds: list = field(default_factory=list)  # the kill types still to use, last first
    restarts: int = 0
    unlocks: int = 0
    lock_waits: set = field(default_factory=set)  # log lines of jobs that waited for an orphan's lock
    snakemake: subprocess.Popen | None = None  # the newest Snakemake started

    # --- looking at the project ------------------------------------------------

    def checkpoint(self, model, sampler) -> Path:
        return self.directory / "results/checkpoints/jla" / model / sampler

    def committed(self, model) -> int:
        ends = [int(p.name[15:25]) for p in (self.checkpoint(model, "emcee") / "segments").glob("seg_*.npz")]
        return max(ends, default=0)

    def resumes(self, model, sampler) -> list:
        try:
            return json.loads((self.checkpoint(model, sampler) / "resumes.json").read_text())
        except (OSError, ValueError):
            return []

    def generation_it(self, model) -> int:
        """Iteration of the newest generation that verifies (0 if none, or if it vanished meanwhile)."""
        for path in sorted((self.checkpoint(model, "dynesty") / "generations").glob("state_*.pkl"), reverse=True):
            try:
                if verified(path):
                    return int(dynesty.NestedSampler.restore(str(path)).it)
            except Exception:  # rotated away by the sampler while being read
                continue
        return 0

    def jobs(self, snakemake_pid: int | None = None) -> list[tuple[psutil.Process, str]]:
        """Running job processes of this project, with their "rule/model".

        A job whose parent is not ``snakemake_pid`` is an orphan of an earlier
        Snakemake, marked so in its name.
        """
        found = []
        scripts = str(self.directory / ".snakemake/scripts")
        for proc in psutil.process_iter(["cmdline", "ppid"]):
            cmdline = proc.info["cmdline"] or []
            if cmdline and cmdline[-1].startswith(scripts) and "python" in Path(cmdline[0]).name:
                rule = Path(cmdline[-1]).name.split(".")[1]  # tmpXXXX.sample_emcee.py -> sample_emcee
                orphan = " (orphan)" if proc.info["ppid"] != snakemake_pid else ""
                found.append((proc, f"{rule}/{self._model_of(cmdline[-1])}{orphan}"))
        return found

    @staticmethod
    def _model_of(script: str) -> str:
        """The job's log name ("lcdm" for results/logs/emcee/jla/lcdm.log), read from its script.

        Snakemake writes each job's script with its pickled rule object,
        whose log path is in it as plain text.
        """
        try:
            found = re.search(r"results/logs/[\w/.+-]*?([\w.+-]+)\.log", Path(script).read_text(errors="replace"))
        except OSError:
            return "?"
        return found.group(1) if found else "?"

    def locked(self) -> bool:
        return any((self.directory / ".snakemake/locks").glob("*"))

    # --- driving Snakemake ---------------------------------------------------

    def note_lock_waits(self) -> None:
        """Collect the "waiting" lines of the job logs now: a rerun of a job replaces its log."""
        for path in (self.directory / "results/logs").rglob("*.log"):
            self.lock_waits.update(
                line for line in path.read_text().splitlines() if "waiting for the sampler holding" in line
            )

    def stop_everything(self) -> None:
        for proc, _ in self.jobs():
            with_ignored(proc.kill)
        if self.snakemake is not None and self.snakemake.poll() is None:
            with_ignored(os.killpg, self.snakemake.pid, signal.SIGKILL)
            self.snakemake.wait()

    def start(self) -> subprocess.Popen:
        self.note_lock_waits()
        self.restarts += 1
        if self.locked():
            self.unlocks += 1
            subprocess.run(command(self.directory, "--unlock"), capture_output=True, env=env(), check=True)
        err = open(self.directory / f"snakemake.{self.restarts}.err", "w")
        # SIGINT reset to its default: a shell may have started pytest with it ignored.
        self.snakemake = subprocess.Popen(
            command(self.directory, "--rerun-incomplete"),
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,
            env=env(),
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        return self.snakemake

    def kill(self, proc: subprocess.Popen, started: float) -> bool:
        """Kill at a random moment; False if the workflow ended before the moment came."""
        deadline = time.monotonic() + self.rng.uniform(*self.delay_s)
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return False
            time.sleep(0.02)
        kind = self.kinds.pop()
        jobs = self.jobs(proc.pid)
        record = Kill(
            kind,
            round(time.monotonic() - started, 2),
            sorted(name for _, name in jobs),
            {m: self.committed(m) for m in self.models},
            {f"{m}/{s}": len(self.resumes(m, s)) for m in self.models for s in ("emcee", "dynesty")},
            {m: self.generation_it(m) for m in self.models},
        )
        # The checkpoint state is read before the signal, so a segment committed in
        # between only makes the bound looser, never a false failure.
        if kind == "kill9_sampler":
            children = [(p, n) for p, n in jobs if not n.endswith("(orphan)")]
            samplers = [(p, n) for p, n in children if n.startswith("sample_")] or children
            if samplers:
                victim, name = self.rng.choice(samplers)
                record.kind = "kill9_sampler" if name.startswith("sample_") else "kill9_job"
                with_ignored(victim.kill)
            else:
                record.kind = "kill9_group (no job running)"
                with_ignored(os.killpg, proc.pid, signal.SIGKILL)
        elif kind == "kill9_group":
            with_ignored(os.killpg, proc.pid, signal.SIGKILL)
        elif kind == "sigterm_group":
            with_ignored(os.killpg, proc.pid, signal.SIGTERM)
        else:
            with_ignored(os.kill, proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=SIGINT_PATIENCE_S)
            except subprocess.TimeoutExpired:
                record.orphans = sum(not n.endswith("(orphan)") for _, n in self.jobs(proc.pid))
                proc.kill()
        self.kills.append(record)
        if record.kind not in ("kill9_sampler", "kill9_job"):  # those leave Snakemake running
            proc.wait(timeout=HANG_GUARD_S)
        return True

    def run(self, n_kills: int) -> None:
        """Kill ``n_kills`` times, then let the workflow finish.

        The budget is a count, never a time, so the verdict does not depend on
        the machine's load: Snakemake may end with an error on its own (not by
        a kill) at most MAX_FAILED_STARTS times in a row; a job killed under a
        running Snakemake accounts for one such end.
        """
        # Every type equally often (a short run still tries each), in random order.
        self.kinds = list(KILL_TYPES) * (n_kills // len(KILL_TYPES)) + self.rng.sample(
            KILL_TYPES, n_kills % len(KILL_TYPES)
        )
        self.rng.shuffle(self.kinds)
        proc, started = self.start(), time.monotonic()
        failed = 0  # consecutive ends with an error that no kill caused
        while len(self.kills) < n_kills:
            if self.kill(proc, started):
                failed = 0
                if proc.poll() is None:
                    continue  # one job was killed; Snakemake runs on
            elif proc.returncode == 0 and not self.jobs():
                break  # finished before all kills happened
            elif proc.returncode != 0:
                failed = self.count_failure(failed)
            proc, started = self.start(), time.monotonic()
        while proc.wait(timeout=HANG_GUARD_S) != 0:
            failed = self.count_failure(failed)
            proc, started = self.start(), time.monotonic()
        wait_until(lambda: not self.jobs(), "orphaned jobs to finish", HANG_GUARD_S)
        self.note_lock_waits()

    def count_failure(self, failed: int) -> int:
        failed += 1
        err = (self.directory / f"snakemake.{self.restarts}.err").read_text()[-3000:]
        assert failed <= MAX_FAILED_STARTS, f"Snakemake ended with an error {failed} times in a row:\n{err}"
        return failed


def with_ignored(function, *args):
    try:
        function(*args)
    except (ProcessLookupError, psutil.NoSuchProcess):
        pass  # it ended on its own just before the signal


def wait_until(condition, what, timeout_s):
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def fuzz_config(directory: Path, public_data: Path, models: list, emcee: dict, dynesty: dict) -> None:
    write_config(
        directory,
        public_data,
        models=models,
        samplers=["emcee", "dynesty"],
        cores={"performance": 1, "efficiency": 0},
        emcee=emcee,
        dynesty=dynesty,
    )


def reference_run(directory: Path, models: list) -> threading.Thread:
    """The uninterrupted run of the samplers, in a background thread (it only competes for CPU)."""
    targets = [f"results/jla/{m}/{s}" for m in models for s in ("emcee/run.json", "dynesty/evidence.json")]

    def run():
        proc = subprocess.run(command(directory, *targets), capture_output=True, text=True, env=env())
        (directory / "reference.err").write_text(proc.stderr)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def run_fuzz(tmp_path, public_data, n_kills, seed, models, emcee, dynesty, delay_s) -> list:
    """Kill the workflow ``n_kills`` times in all, each round checked against one uninterrupted reference.

    A round ends when its workflow completes; if that happens before the kills
    add up (a fast machine runs out of work), the next round starts afresh in a
    new directory with the next seed, so the test does not depend on the
    machine's speed.
    """
    reference = tmp_path / "reference"
    reference.mkdir()
    fuzz_config(reference, public_data, models, emcee, dynesty)
    background = reference_run(reference, models)
    rounds, done = [], 0  # done: kills in the rounds before this one
    try:
        while done < n_kills:
            fuzzed = tmp_path / f"fuzzed.{len(rounds)}"
            fuzzed.mkdir()
            fuzz_config(fuzzed, public_data, models, emcee, dynesty)
            fuzz = Fuzz(fuzzed, models, emcee["checkpoint"]["steps"], random.Random(seed + len(rounds)), delay_s)
            rounds.append(fuzz)
            t0 = time.monotonic()
            try:
                fuzz.run(n_kills - done)
            finally:
                fuzz.stop_everything()  # after a failure, leave no process behind
            background.join()
            print(
                f"\nkill fuzz round {len(rounds)}:",
                json.dumps(
                    {
                        "seed": seed + len(rounds) - 1,
                        "wall_s": round(time.monotonic() - t0, 1),
                        "restarts": fuzz.restarts,
                        "unlocks": fuzz.unlocks,
                        "kills": len(fuzz.kills),
                        "by_type": collections.Counter(k.kind for k in fuzz.kills),
                        "jobs_running_at_kills": collections.Counter(
                            job for k in fuzz.kills for job in (k.jobs or ["(no job: Snakemake itself)"])
                        ),
                        "orphaned_jobs_after_sigint": sum(k.orphans for k in fuzz.kills),
                        "job_lock_waits_logged": len(fuzz.lock_waits),
                    },
                    indent=1,
                ),
            )
            print("checked:", json.dumps(check_result(fuzz, reference), indent=1))
            done += len(fuzz.kills)
    finally:
        background.join()
    return rounds


def check_result(fuzz: Fuzz, reference: Path) -> dict:
    directory, logz = fuzz.directory, {}
    for m in fuzz.models:
        run_dir, ref_dir = directory / f"results/jla/{m}", reference / f"results/jla/{m}"
        assert (ref_dir / "emcee/run.json").exists(), (reference / "reference.err").read_text()[-3000:]
        # emcee: the same chain, bit for bit, and the same stopping decision.
        assert_same_chain(chain_arrays(run_dir / "emcee/chain.h5"), chain_arrays(ref_dir / "emcee/chain.h5"))
        got, want = (json.loads((d / "emcee/run.json").read_text()) for d in (run_dir, ref_dir))
        assert (got["n_steps"], got["stop_reason"]) == (want["n_steps"], want["stop_reason"])
        # dynesty: the same evidence within errors.
        got, want = (json.loads((d / "dynesty/evidence.json").read_text()) for d in (run_dir, ref_dir))
        assert abs(got["logz"] - want["logz"]) < 3 * np.hypot(got["logz_err"], want["logz_err"])
        logz[m] = f"{got['logz']:.6f} vs uninterrupted {want['logz']:.6f} ± {want['logz_err']:.3f}"
        # The summary and the overview list the resumes.
        summary = json.loads((run_dir / "summary.json").read_text())
        assert summary["emcee"]["resumes"] == fuzz.resumes(m, "emcee")
        assert summary["dynesty"]["resumes"] == fuzz.resumes(m, "dynesty")
    overview = (directory / "results/overview.csv").read_text()
    for m in fuzz.models:
        for sampler in ("emcee", "dynesty"):
            assert (", ".join(map(str, fuzz.resumes(m, sampler))) or "none") in overview
    # No kill ever tore a file: nothing was quarantined.
    assert not list((directory / "results/checkpoints").rglob("quarantine"))

    # Every resume after a kill starts at or after the checkpoint committed before it.
    worst_lost, recomputed_bound, resumed_dynesty, pairs = 0, 0, 0, []
    for k, kill in enumerate(fuzz.kills):
        for m in fuzz.models:
            for r in resumes_after(fuzz, k, m, "emcee"):
                pairs.append(f"{m}: committed {kill.committed[m]} before {kill.kind}, resumed at {r}")
                worst_lost = max(worst_lost, kill.committed[m] - r)
                recomputed_bound = max(recomputed_bound, kill.committed[m] - r + fuzz.checkpoint_steps - 1)
            for r in resumes_after(fuzz, k, m, "dynesty"):
                resumed_dynesty += 1
                assert r >= kill.generation_it[m], f"dynesty {m} resumed at {r}, before {kill.generation_it[m]}"
    assert worst_lost <= 0, f"a resume started {worst_lost} steps before a segment committed before the kill"
    assert recomputed_bound < fuzz.checkpoint_steps

    return {
        "emcee_resumes": {m: fuzz.resumes(m, "emcee") for m in fuzz.models},
        "dynesty_resumes": {m: fuzz.resumes(m, "dynesty") for m in fuzz.models},
        "dynesty_logz": logz,
        "resumes_checked": {"emcee": len(pairs), "dynesty": resumed_dynesty},
        "emcee_resumes_after_kills": pairs,
        "max_recomputed_emcee_steps_bound": recomputed_bound,
        "checkpoint_steps": fuzz.checkpoint_steps,
    }


def resumes_after(fuzz: Fuzz, k: int, model: str, sampler: str) -> list:
    """The resumes recorded after kill ``k`` and before the next one."""
    key = f"{model}/{sampler}"
    first = fuzz.kills[k].resumes_before[key]
    last = fuzz.kills[k + 1].resumes_before[key] if k + 1 < len(fuzz.kills) else None
    return fuzz.resumes(model, sampler)[first:last]


@pytest.mark.slow
def test_kill_fuzz_short(tmp_path, public_data):
    run_fuzz(
        tmp_path,
        public_data,
        n_kills=5,
        seed=int(os.environ.get("JANUSFIT_FUZZ_SEED", "1")),
        models=["lcdm"],
        emcee={
            "max_steps": 20000,
            "checkpoint": {"steps": 50, "seconds": 1},
            "stop": {"enabled": True, "check_every": 250, "n_over_tau": 700, "tau_rel_change": 0.05},
        },
        dynesty={"nlive": 300, "dlogz": 0.1, "checkpoint_seconds": 1},
        delay_s=(5, 12),
    )


@pytest.mark.slow
def test_kill_fuzz(tmp_path, public_data):
    n_kills = int(os.environ.get("JANUSFIT_FUZZ_KILLS", "50"))
    run_fuzz(
        tmp_path,
        public_data,
        n_kills=n_kills,
        seed=int(os.environ.get("JANUSFIT_FUZZ_SEED", "2")),
        models=["lcdm", "janus"],
        # Sampler work grows with the kills, so that most kills land in one round.
        emcee={
            "max_steps": 1000000,
            "checkpoint": {"steps": 50, "seconds": 1},
            "stop": {"enabled": True, "check_every": 250, "n_over_tau": 200 * n_kills, "tau_rel_change": 0.05},
        },
        dynesty={"nlive": 40 * n_kills, "dlogz": 0.02, "checkpoint_seconds": 1},
        delay_s=(2, 16),
    )
