"""``janusfit status`` and ``janusfit compare`` on real result directories.

One real workflow (ΛCDM on JLA, both samplers, one job at a time) is watched
while it runs, killed with ``kill -9`` of its process group while its first
sampler runs, and resumed with the exact command ``janusfit status`` prints.
Its prior (Ωm in [0.4, 1], well above JLA's Ωm = 0.295 ± 0.034) makes it
differ from the shared JLA run by far more than the errors, which
``janusfit compare`` must flag, while comparing a run with itself must flag
nothing.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from release_configs import jla_binned
from schema_defaults import with_defaults
from snakemake_runner import HANG_GUARD_S, start, write_config

from janusfit.layout import DATA, INVOCATION, OVERVIEW_CSV, PROGRESS_JSON, SAMPLER_OUTPUT, Run, refusal_path
from janusfit.sampling.invocation import alive
from janusfit.status import resume_command, run_status, sampler_status, workflow_alive

OM_PRIOR = [0.4, 1.0]
# Long enough, in steps and live points, that whichever sampler Snakemake
# starts first (it does not promise an order) is still running at its first
# checkpoint, when the workflow is frozen (SIGSTOP) for the status to be
# taken however long that takes: the sampler cannot finish meanwhile.
EMCEE_STEPS, NLIVE = 10000, 2000


def _running(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _recorded_checkpoint(directory) -> bool:
    """Whether a sampler has committed a checkpoint and written it to its progress.json.

    A sampler writes progress.json where it starts (its iteration then is
    where this session started), commits each checkpoint, then writes the
    checkpoint's iteration there: frozen before that, the status would show
    the start, not the checkpoint.
    """
    for path in (directory / "results" / "checkpoints").glob(f"*/*/*/{PROGRESS_JSON}"):
        try:
            record = json.loads(path.read_text())
            if record["iteration"] > record["session_start_iteration"]:
                return True
        except (OSError, ValueError, KeyError):
            continue
    return False


@pytest.fixture(scope="module")
def killed_then_resumed(tmp_path_factory, public_data, janusfit_cli):
    """Status while running, after a kill -9, and after the printed resume command finished."""
    directory = tmp_path_factory.mktemp("killed")
    write_config(
        directory,
        public_data,
        models=["lcdm"],
        priors={"lcdm": {"Om": OM_PRIOR}},
        cores={"performance": 1, "efficiency": 0},
        emcee={"max_steps": EMCEE_STEPS, "checkpoint": {"steps": 200, "seconds": 1}, "stop": {"enabled": False}},
        dynesty={"nlive": NLIVE, "checkpoint_seconds": 1},
    )
    results = directory / "results"
    proc = start(directory, "--cores", "1")  # one job at a time: the second sampler waits its turn
    deadline = time.monotonic() + 600
    while not _recorded_checkpoint(directory):
        assert proc.poll() is None, f"workflow ended before its first checkpoint:\n{proc.stderr.read()[-3000:]}"
        assert time.monotonic() < deadline, "no checkpoint recorded within 600 s"
        time.sleep(0.1)
    # Frozen, the sampler keeps its lock and its process, as one still running does.
    os.killpg(proc.pid, signal.SIGSTOP)
    running = janusfit_cli("status", results, "--json")
    group = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=HANG_GUARD_S)
    # A killed job is dead once it is a zombie or gone; until then status rightly calls it running.
    deadline = time.monotonic() + HANG_GUARD_S
    while any(_running(p) for p in group):
        assert time.monotonic() < deadline, "the killed jobs did not die"
        time.sleep(0.05)
    killed_text = janusfit_cli("status", results)
    killed = janusfit_cli("status", results, "--json")
    left = {p.parent.name: json.loads(p.read_text()) for p in (results / "checkpoints").glob(f"*/*/*/{PROGRESS_JSON}")}
    resume = killed_text.stdout.strip().splitlines()[-1].strip()
    resumed = subprocess.run(["bash", "-c", resume], capture_output=True, text=True, timeout=1200)
    return {
        "dir": directory,
        "running": running,
        "killed_text": killed_text,
        "killed": killed,
        "progress_left": left,
        "resume": resume,
        "resumed": resumed,
        "done": janusfit_cli("status", results, "--json"),
        "done_text": janusfit_cli("status", results),
    }


def test_status_while_the_workflow_runs(killed_then_resumed):
    done = killed_then_resumed["running"]
    assert done.returncode == 0, done.stderr
    (status,) = json.loads(done.stdout)
    assert (status["run"], status["state"]) == ("jla/lcdm", "running")
    states = sorted(s["state"] for s in status["samplers"])
    assert states == ["not started", "running"]
    (running,) = [s for s in status["samplers"] if s["state"] == "running"]
    assert running["iteration"] > 0 and running["last_update"] > 0


def test_status_after_kill_9_says_interrupted_and_how_to_resume(killed_then_resumed):
    done, text = killed_then_resumed["killed"], killed_then_resumed["killed_text"]
    assert done.returncode == 1 and text.returncode == 1
    (status,) = json.loads(done.stdout)
    assert status["state"] == "interrupted"
    assert sorted(s["state"] for s in status["samplers"]) == ["interrupted", "not started"]
    (interrupted,) = [s for s in status["samplers"] if s["state"] == "interrupted"]
    before = json.loads(killed_then_resumed["running"].stdout)[0]["samplers"]
    running = next(s for s in before if s["state"] == "running")
    assert interrupted["sampler"] == running["sampler"] and interrupted["iteration"] >= running["iteration"] > 0
    config = killed_then_resumed["dir"] / "config.yaml"
    resume = killed_then_resumed["resume"]
    # kill -9 left Snakemake's lock: unlock first, then rerun the same command.
    assert resume.startswith(f"cd {killed_then_resumed['dir']} && ")
    assert "--unlock && " in resume and resume.endswith("--rerun-incomplete")
    assert resume.count(f"--configfile {config}") == 2
    assert "To resume the interrupted runs from their checkpoints:" in text.stdout


def test_the_printed_resume_command_finishes_the_workflow_from_its_checkpoints(killed_then_resumed):
    resumed = killed_then_resumed["resumed"]
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    done = killed_then_resumed["done"]
    assert done.returncode == 0
    (status,) = json.loads(done.stdout)
    assert status["state"] == "done" and all(s["state"] == "done" for s in status["samplers"])
    summary = json.loads((killed_then_resumed["dir"] / "results/jla/lcdm/summary.json").read_text())
    (interrupted,) = [
        s for s in json.loads(killed_then_resumed["killed"].stdout)[0]["samplers"] if s["state"] == "interrupted"
    ]
    # The interrupted sampler continued from its checkpoint, the other started afresh.
    resumes = {s: summary[s]["resumes"] for s in ("emcee", "dynesty")}
    assert len(resumes.pop(interrupted["sampler"])) == 1 and list(resumes.values()) == [[]]
    emcee = next(s for s in status["samplers"] if s["sampler"] == "emcee")
    assert emcee["iteration"] == summary["emcee"]["n_steps"] == EMCEE_STEPS
    assert status["converged"] == summary["emcee"]["converged"]
    assert "1 run: 1 done" in killed_then_resumed["done_text"].stdout


def test_a_resumed_job_is_timed_with_what_its_killed_session_sampled(killed_then_resumed):
    """The measured runtime of a resumed sampler was its last job's alone: the report set minutes against hours."""
    results = killed_then_resumed["dir"] / "results"
    (interrupted,) = [
        s["sampler"]
        for s in json.loads(killed_then_resumed["killed"].stdout)[0]["samplers"]
        if s["state"] == "interrupted"
    ]
    left = killed_then_resumed["progress_left"][interrupted]
    sampled = left["time"] - left["session_started"]
    assert sampled > 0 and left["earlier_s"] == 0
    summary = json.loads((results / "jla/lcdm/summary.json").read_text())
    for sampler in ("emcee", "dynesty"):
        memory = json.loads((results / f"jla/lcdm/{sampler}/memory.json").read_text())
        earlier = sampled if sampler == interrupted else 0.0
        assert memory["earlier_sessions_s"] == pytest.approx(earlier, abs=0.01)
        expected = round((memory["job_wall_s"] + memory["earlier_sessions_s"]) / 60.0, 3)
        assert summary["resources"][sampler]["runtime_min"] == expected


def test_status_of_a_finished_workflow(jla_run, janusfit_cli):
    done = janusfit_cli("status", "results", cwd=jla_run)  # the default root, from the workflow's directory
    assert done.returncode == 0, done.stderr
    assert "2 runs: 2 done" in done.stdout and "To resume" not in done.stdout
    for line in done.stdout.splitlines()[1:3]:
        assert "emcee (done)" in line or "dynesty (done)" in line


def test_a_snakemake_of_another_config_in_the_same_directory_is_not_the_workflow_running(tmp_path):
    """The audit's case: an interrupted workflow was "running", with no resume command, while Snakemake ran
    config/public.yaml (results/public) in the same directory."""
    snakemake = tmp_path / "snakemake"
    snakemake.symlink_to(sys.executable)  # a process named snakemake, sleeping
    record = {"argv": ["snakemake", "--cores", "2"], "cwd": str(tmp_path), "host": socket.gethostname()}
    record.update(pid=os.getpid(), create_time=0.0)  # a process that is not the recorded Snakemake's
    # Once it runs Python it has exec'd, and its command line is the one given, however loaded the machine.
    sleeping = [str(snakemake), "-c", "import pathlib, time; pathlib.Path('started').touch(); time.sleep(600)"]
    processes = []
    try:
        for extra, running in ((["--configfile", "config/public.yaml"], False), (["--cores", "4"], True)):
            (tmp_path / "started").unlink(missing_ok=True)
            process = subprocess.Popen([*sleeping, *extra], cwd=tmp_path)
            processes.append(process)
            while not (tmp_path / "started").exists():
                assert process.poll() is None
                time.sleep(0.01)
            assert workflow_alive(record) is running
    finally:
        for process in processes:
            process.kill()
            process.wait()


def test_a_process_is_its_pid_and_start_time_whatever_second_the_kernel_gives_for_the_boot():
    """CI's case: a living dynesty job was "interrupted" while it wrote its samples, because the boot time that
    Linux adds to a process's start time had moved by a whole second since the job recorded its own."""
    me = psutil.Process()
    record = {"pid": me.pid, "host": socket.gethostname()}
    assert alive({**record, "create_time": me.create_time() + 1.0})
    assert alive({**record, "create_time": me.create_time() - 1.0})
    assert not alive({**record, "create_time": me.create_time() - 60.0})  # another process that had this pid


def test_the_resume_command_of_a_moved_project_does_not_cd_where_it_was(tmp_path):
    """The audit's case: after 'mv project moved', status said 'cd project && …', a directory gone; after a copy,
    the command would have resumed the original."""
    was = tmp_path / "project"
    record = {"argv": ["snakemake", "--cores", "2"], "cwd": str(was), "workdir": str(was)}
    assert resume_command(record, False, was / "results") == f"cd {was} && snakemake --cores 2 --rerun-incomplete"
    assert resume_command(record, False, tmp_path / "moved" / "results") == (
        f"from the directory the project is in now (it was in {was} when the workflow started): "
        "snakemake --cores 2 --unlock && snakemake --cores 2 --rerun-incomplete"
    )


def test_a_workflow_stopped_before_its_overview_is_not_done(jla_run, tmp_path, janusfit_cli):
    """The audit's case: killed after the last summary, before the overview and the report, status said
    "2 runs: 2 done" with exit status 0, while report.html showed the results before."""
    results = tmp_path / "results"
    shutil.copytree(jla_run / "results", results)  # copy2: the files keep their times
    assert janusfit_cli("status", results).returncode == 0
    summary = results / "jla/lcdm/summary.json"
    later = (results / OVERVIEW_CSV).stat().st_mtime + 10
    os.utime(summary, (later, later))
    behind = janusfit_cli("status", results)
    assert behind.returncode == 1, behind.stderr
    assert f"Every run is done, but {results / OVERVIEW_CSV} is older than the runs' summaries" in behind.stdout
    # copied elsewhere, so no cd to where it ran
    assert f"(it was in {jla_run} when the workflow started)" in behind.stdout and "--rerun-incomplete" in behind.stdout
    (results / OVERVIEW_CSV).unlink()
    missing = janusfit_cli("status", results, "--json")
    assert missing.returncode == 1 and f"{results / OVERVIEW_CSV} is missing" in missing.stderr
    assert {run["state"] for run in json.loads(missing.stdout)} == {"done"}


@pytest.mark.parametrize("how", ["new_chain", "convergence_failed", "summary_not_written"])
def test_a_summary_older_than_its_chain_is_not_shown_as_the_runs_verdict(jla_run, tmp_path, how):
    """The audit's cases: a rerun under way, or convergence jobs failing on new chains under --keep-going,
    left the old summary.json, and status said "done" and "yes: all checks pass" of chains it had not seen.
    Killed before its summary job wrote, the run was "converged" in --json on dynesty's dlogz alone."""
    results = tmp_path / "results"
    shutil.copytree(jla_run / "results", results)  # copy2: the files keep their times
    run = Run(results, "jla", "lcdm")
    assert run_status(run).state == "done" and run_status(run).converged is not None
    later = (run.dir / "summary.json").stat().st_mtime + 10
    if how == "new_chain":
        os.utime(run.dir / "emcee/chain.h5", (later, later))
    elif how == "convergence_failed":
        (run.dir / "convergence.json").unlink()
    else:
        (run.dir / "summary.json").unlink()
    status = run_status(run)
    assert status.state == "interrupted" and status.converged is None
    emcee = next(s for s in status.samplers if s.sampler == "emcee")
    assert (emcee.state, emcee.converged, emcee.convergence) == ("done", None, "")
    assert run_status(Run(results, "jla", "janus")).state == "done"


@pytest.mark.parametrize("newer", ["data.json", "resources.json"])
def test_a_samplers_output_older_than_its_inputs_is_not_done(jla_run, tmp_path, newer):
    """The audit's case: the data edited, the rerun's emcee job refused its checkpoint and the workflow stopped;
    status said dynesty "done" of an evidence.json computed from the old data, which the next run redoes."""
    results = tmp_path / "results"
    shutil.copytree(jla_run / "results", results)
    run = Run(results, "jla", "lcdm")
    # Newer than every output of the run: taken from dynesty's alone, it was older than emcee's whenever the
    # emcee job finished more than 10 s after dynesty's (a loaded machine), and emcee stayed "done".
    later = max(f.stat().st_mtime for f in run.dir.rglob("*") if f.is_file()) + 10
    touched = run.dir.parent / newer if newer == "data.json" else run.dir / newer
    os.utime(touched, (later, later))
    status = run_status(run)
    assert status.state == "interrupted"
    assert {s.sampler: s.state for s in status.samplers} == {"emcee": "interrupted", "dynesty": "interrupted"}


def test_a_sampler_killed_before_its_first_checkpoint_is_interrupted_not_unstarted(tmp_path):
    """The audit's case: killed in its first minute, the job left Snakemake's lock and no checkpoint; status said
    "not started", exit status 0, and no --unlock."""
    run = Run(tmp_path, "jla", "lcdm")
    ck = run.checkpoint_dir("dynesty")
    ck.mkdir(parents=True)
    assert sampler_status(run, "dynesty", None, time.time()).state == "not started"
    (ck / INVOCATION).write_text(json.dumps({"argv": ["snakemake", "--cores", "1"], "cwd": str(tmp_path)}))
    assert sampler_status(run, "dynesty", None, time.time()).state == "interrupted"


def test_a_refused_checkpoint_moved_aside_by_hand_is_no_longer_refused(tmp_path):
    """The refusal advises moving the directory aside; done, the run was still shown as refused."""
    run = Run(tmp_path, "jla", "lcdm")
    ck = run.checkpoint_dir("emcee")
    ck.mkdir(parents=True)
    (ck / INVOCATION).write_text(json.dumps({"argv": ["snakemake", "--cores", "1"], "cwd": str(tmp_path)}))
    refusal_path(ck).write_text(json.dumps({"message": "the checkpoint was made with different inputs"}))
    assert sampler_status(run, "emcee", None, time.time()).state == "refused"
    ck.rename(ck.with_name("emcee.moved"))
    assert sampler_status(run, "emcee", None, time.time()).state == "not started"


def test_status_says_a_dynesty_run_stopped_by_maxiter_is_incomplete(tmp_path):
    run = Run(tmp_path, "jla", "janus")
    evidence = run.dir / SAMPLER_OUTPUT["dynesty"]
    evidence.parent.mkdir(parents=True)
    (run.dir.parent / DATA).write_text("{}")  # the data were read: the dataset's record is there
    evidence.write_text(
        json.dumps({"n_iter": 100, "dlogz": 0.1, "maxiter": 100, "complete": False, "dlogz_remaining": 3.2})
    )
    status = sampler_status(run, "dynesty", None, time.time())
    assert status.converged is False
    assert status.convergence == "INCOMPLETE: maxiter 100 stopped it at dlogz 3.2 (needs < 0.1)"
    # An evidence.json written before maxiter existed is of a run that reached dlogz.
    evidence.write_text(json.dumps({"n_iter": 100, "dlogz": 0.1}))
    assert sampler_status(run, "dynesty", None, time.time()).converged is True
    # A dynamic run's dlogz is its baseline's (dlogz_init), not where it stopped.
    ck = run.checkpoint_dir("dynesty")
    ck.mkdir(parents=True)
    (ck / PROGRESS_JSON).write_text(json.dumps({"iteration": 100, "time": time.time(), "method": "dynamic"}))
    status = sampler_status(run, "dynesty", None, time.time())
    assert (status.converged, status.convergence) == (True, "dynamic: baseline to dlogz < 0.1, then batches")


def test_status_names_a_stuck_walker_of_an_unfinished_emcee_run(tmp_path):
    run = Run(tmp_path, "jla", "lcdm")
    ck = run.checkpoint_dir("emcee")
    ck.mkdir(parents=True)
    progress = {"sampler": "emcee", "iteration": 400, "time": time.time(), "max_steps": 1000, "tau": {"Om": 8.6}}
    (ck / PROGRESS_JSON).write_text(json.dumps({**progress, "stuck_walkers": [7]}))
    status = sampler_status(run, "emcee", None, time.time())
    assert status.convergence == "so far N/tau 47 (the stopping rule needs > 50); STUCK: walker 7"
    (ck / PROGRESS_JSON).write_text(json.dumps({**progress, "stuck_walkers": []}))
    assert "STUCK" not in sampler_status(run, "emcee", None, time.time()).convergence


def test_status_numbers_near_their_thresholds_are_not_rounded_onto_them(tmp_path):
    """The audit's cases: "so far dlogz 0.1 (needs < 0.1)" for 0.10012, N/τ 49.6 shown as 50 beside "> 50",
    and "the stopping rule needs" with the stopping rule off."""
    run = Run(tmp_path, "jla", "lcdm")
    for sampler in ("emcee", "dynesty"):
        run.checkpoint_dir(sampler).mkdir(parents=True)
    now = time.time()
    record = {"sampler": "dynesty", "iteration": 2414, "time": now, "nlive": 500, "dlogz_target": 0.1}
    (run.checkpoint_dir("dynesty") / PROGRESS_JSON).write_text(json.dumps({**record, "delta_logz": 0.100120}))
    assert sampler_status(run, "dynesty", None, now).convergence == "so far dlogz 0.1001 (needs < 0.1)"
    record = {"sampler": "emcee", "iteration": 496, "time": now, "max_steps": 20000, "tau": {"Om": 10.0}}
    (run.checkpoint_dir("emcee") / PROGRESS_JSON).write_text(json.dumps({**record, "stop_on_convergence": False}))
    assert sampler_status(run, "emcee", None, now).convergence == (
        "so far N/tau 49.60 (the stopping rule is off; on, it needs > 50)"
    )


def test_status_of_dynesty_repeats_is_the_newest_repeats(tmp_path):
    """The audit's case: killed in its third run (repeat-2), the job was shown at the first run's final iteration."""
    run = Run(tmp_path, "jla", "lcdm")
    ck = run.checkpoint_dir("dynesty")
    (ck / "generations").mkdir(parents=True)
    (ck / "generations" / "state_000003.pkl").write_bytes(b"")
    (ck / "repeat-2").mkdir()
    now = time.time()
    record = {"sampler": "dynesty", "nlive": 100, "dlogz_target": 0.1}
    (ck / PROGRESS_JSON).write_text(
        json.dumps({**record, "iteration": 12368, "time": now - 30, "delta_logz": 0.09, "final": True})
    )
    (ck / "repeat-2" / PROGRESS_JSON).write_text(
        json.dumps({**record, "iteration": 11572, "time": now - 20, "delta_logz": 0.5, "final": False})
    )
    status = sampler_status(run, "dynesty", None, now)
    assert (status.state, status.iteration, status.target) == ("interrupted", 11572, "iterations in repeat-2")
    assert status.convergence == "so far dlogz 0.5 (needs < 0.1)"
    assert status.last_update == pytest.approx((ck / "repeat-2" / PROGRESS_JSON).stat().st_mtime)


def test_a_sampler_writing_its_results_after_sampling_is_running_not_interrupted(tmp_path, public_data, monkeypatch):
    # dynesty's job releases the checkpoint lock when sampling ends, then
    # writes its samples and computes the exact evidence; the status taken
    # then, in the same (living) job, used to say "interrupted".
    import janusfit.stages.sample as stage

    run = Run(tmp_path / "results", "jla", "lcdm")
    seen = []

    def exact_evidence_watched(posterior):
        seen.append(sampler_status(run, "dynesty", None, time.time()).state)
        return exact_evidence(posterior)

    exact_evidence = stage.exact_evidence
    monkeypatch.setattr(stage, "exact_evidence", exact_evidence_watched)
    config = {"datasets": {"jla": jla_binned(public_data)}, "models": ["lcdm"], "dynesty": {"nlive": 50, "dlogz": 1.0}}
    with_defaults(config)
    run.dir.joinpath("dynesty").mkdir(parents=True)
    (run.dir.parent / DATA).write_text("{}")  # the data were read: the dataset's record is there
    stage._sample_dynesty(
        config=config,
        dataset="jla",
        model="lcdm",
        checkpoint_dir=run.checkpoint_dir("dynesty"),
        samples_path=run.dir / "dynesty" / "samples.h5",
        evidence_json=run.dir / SAMPLER_OUTPUT["dynesty"],
        log=logging.getLogger("test_cli"),
    )
    assert seen == ["running"]
    assert sampler_status(run, "dynesty", None, time.time()).state == "done"
    # A job that died there (its process gone) is interrupted.
    (run.dir / SAMPLER_OUTPUT["dynesty"]).unlink()
    record = json.loads((run.checkpoint_dir("dynesty") / "job.json").read_text())
    (run.checkpoint_dir("dynesty") / "job.json").write_text(json.dumps({**record, "create_time": 0.0}))
    assert sampler_status(run, "dynesty", None, time.time()).state == "interrupted"


def test_compare_matches_bayes_factors_listed_in_either_order(jla_run, tmp_path, janusfit_cli):
    """A workflow listing its models the other way round writes ln B(lcdm : janus) = −ln B(janus : lcdm)."""
    b = tmp_path / "results"
    shutil.copytree(jla_run / "results", b, ignore=shutil.ignore_patterns("checkpoints", "export"))
    (row,) = json.loads((b / "jla/comparison.json").read_text())
    swapped = {**row, "model_a": row["model_b"], "model_b": row["model_a"], "ln_B": -row["ln_B"]}
    (b / "jla/comparison.json").write_text(json.dumps([swapped]))
    result = json.loads(janusfit_cli("compare", jla_run / "results", b, "--json").stdout)
    (ln_b,) = [r for r in result["rows"] if r["quantity"].startswith("ln B")]
    assert ln_b["quantity"] == "ln B(janus : lcdm)" and ln_b["a"] == ln_b["b"] == row["ln_B"]
    assert not ln_b["flagged"]


def test_a_model_the_config_no_longer_has_is_neither_compared_nor_shown(jla_run, tmp_path, janusfit_cli):
    """The audit's case: with janus removed from the config, its old summary and comparison.json stayed on disk,
    and compare set them against another results root as if they were results ("0 of 20 changed")."""
    a = tmp_path / "results"
    shutil.copytree(jla_run / "results", a, ignore=shutil.ignore_patterns("checkpoints", "export"))
    overview = a / "overview.csv"
    lines = overview.read_text().splitlines(keepends=True)
    overview.write_text("".join(line for line in lines if not line.startswith("jla,janus,")))  # as the workflow does
    result = json.loads(janusfit_cli("compare", a, jla_run / "results", "--json").stdout)
    assert result["only_in_b"] == ["jla/janus"] and result["only_in_a"] == []
    assert {r["subject"] for r in result["rows"]} == {"jla/lcdm"}
    text = janusfit_cli("status", a).stdout
    assert "jla/janus" not in text.split("Not shown")[0]
    assert "Not shown: jla/janus, on disk but not in overview.csv (runs the config that last finished" in text
    assert [s["run"] for s in json.loads(janusfit_cli("status", a, "--json").stdout)] == ["jla/lcdm"]
    # A run finished after the overview was written (a model just added, the workflow still going) is shown.
    later = overview.stat().st_mtime + 10
    os.utime(a / "jla/janus/summary.json", (later, later))
    assert [s["run"] for s in json.loads(janusfit_cli("status", a, "--json").stdout)] == ["jla/janus", "jla/lcdm"]


def test_compare_leaves_out_a_run_whose_samples_changed_since_its_summary(jla_run, tmp_path, janusfit_cli):
    """A rerun stopped after the sampler: ΛCDM's chain newer than its summary. Its old summary was compared as
    B's result, and "0 changed", exit 0, read as a rerun that changed nothing."""
    b = tmp_path / "results"
    shutil.copytree(jla_run / "results", b, ignore=shutil.ignore_patterns("checkpoints", "export"))
    later = (b / "jla/lcdm/summary.json").stat().st_mtime + 60
    os.utime(b / "jla/lcdm/emcee/chain.h5", (later, later))
    done = janusfit_cli("compare", jla_run / "results", b)
    assert done.returncode == 1, done.stderr
    assert "left out of B, earlier results ('janusfit status' says why): jla/lcdm (interrupted)" in done.stdout
    assert "only in A: jla/lcdm" in done.stdout and "ln B" not in done.stdout
    assert all(line.startswith(("jla/janus", " ")) for line in done.stdout.split("\n\n")[1].splitlines()[1:])


def test_compare_names_a_summary_cut_short(jla_run, tmp_path, janusfit_cli):
    """The audit's case: a JSONDecodeError traceback."""
    b = tmp_path / "results"
    shutil.copytree(jla_run / "results", b, ignore=shutil.ignore_patterns("checkpoints", "export"))
    summary = b / "jla/lcdm/summary.json"
    summary.write_text(summary.read_text()[:100])
    done = janusfit_cli("compare", jla_run / "results", b)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith(f"janusfit compare: '{summary}' is not valid JSON (")
    assert done.stderr.rstrip().endswith(
        "the file was cut short or edited; delete it and rerun the workflow, which writes it again"
    )


def test_status_into_a_pipe_closed_by_its_reader_is_not_an_error(jla_run):
    """The audit's case: janusfit status | head -1 ended, now and then, in a BrokenPipeError traceback, exit 1."""
    script = Path(sys.executable).with_name("janusfit")
    read, write = os.pipe()
    os.close(read)  # the reader has gone before the first line: every write fails
    try:
        done = subprocess.run(
            [str(script) if script.exists() else "janusfit", "status", str(jla_run / "results")],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    finally:
        os.close(write)
    assert done.returncode == 0 and done.stderr == ""


def test_compare_a_run_with_itself_flags_nothing(jla_run, janusfit_cli):
    root = jla_run / "results"
    done = janusfit_cli("compare", root, root, "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["n_flagged"] == 0 and result["only_in_a"] == result["only_in_b"] == []
    assert {r["subject"] for r in result["rows"]} == {"jla/janus", "jla/lcdm", "jla"}
    assert all(r["delta"] in (0.0, None) for r in result["rows"])


def test_compare_flags_what_moved_by_more_than_the_combined_error(jla_run, killed_then_resumed, janusfit_cli):
    a, b = jla_run / "results", killed_then_resumed["dir"] / "results"
    done = janusfit_cli("compare", a, b, "--json")
    assert done.returncode == 0, done.stderr
    rows = {(r["subject"], r["quantity"]): r for r in json.loads(done.stdout)["rows"]}
    om = rows[("jla/lcdm", "Om (mean ± sd)")]
    sa = json.loads((a / "jla/lcdm/summary.json").read_text())["parameters"]["Om"]
    sb = json.loads((b / "jla/lcdm/summary.json").read_text())["parameters"]["Om"]
    assert (om["a"], om["a_err"], om["b"], om["b_err"]) == (sa["mean"], sa["sd"], sb["mean"], sb["sd"])
    assert om["b"] > OM_PRIOR[0] and om["flagged"] and om["n_sigma"] > 2
    # The prior cuts off most of the likelihood: ln Z(ΛCDM) drops by several nats.
    assert rows[("jla/lcdm", "ln Z")]["flagged"] and rows[("jla/lcdm", "ln Z")]["delta"] < -2
    assert not rows[("jla/lcdm", "chi2_min")]["flagged"]  # no error, never flagged
    assert json.loads(done.stdout)["only_in_a"] == ["jla/janus"]
    text = janusfit_cli("compare", a, b)
    om_line = next(line for line in text.stdout.splitlines() if "Om (mean ± sd)" in line)
    assert om_line.endswith("<< changed") and f"{sb['mean']:.3f} ± {sb['sd']:.3f}" in om_line


def test_status_and_compare_refuse_a_directory_that_is_not_a_results_root(jla_run, tmp_path, janusfit_cli):
    shutil.copytree(jla_run / "results" / "logs", tmp_path / "logs")  # a folder of a workflow, but not its root
    for args in (("status", tmp_path), ("compare", jla_run / "results", tmp_path)):
        done = janusfit_cli(*args)
        assert done.returncode == 2 and done.stdout == ""
        assert done.stderr.startswith(
            f"janusfit {args[0]}: '{tmp_path}' is not the results directory of a janusfit workflow: it holds no run"
        )
    missing = tmp_path / "nosuch"
    done = janusfit_cli("status", missing)
    assert done.returncode == 2
    assert done.stderr.startswith(f"janusfit status: '{missing}' is not a directory; give the results directory")


def test_compare_refuses_results_with_no_run_in_common(jla_run, tmp_path, janusfit_cli):
    a, b = tmp_path / "a", tmp_path / "b"
    for root, dropped in ((a, "lcdm"), (b, "janus")):
        shutil.copytree(jla_run / "results", root, ignore=shutil.ignore_patterns("checkpoints", "export"))
        shutil.rmtree(root / "jla" / dropped)
    done = janusfit_cli("compare", a, b)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"janusfit compare: '{a}' and '{b}' have no finished run in common (jla/janus against jla/lcdm)"
    )


def test_compare_and_export_refuse_results_with_no_finished_run(jla_run, tmp_path, janusfit_cli):
    """A workflow stopped before any summary: nothing to compare or export, and nothing is written."""
    root = tmp_path / "results"
    shutil.copytree(jla_run / "results", root, ignore=shutil.ignore_patterns("summary.json", "export", "checkpoints"))
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    for args in (("compare", root, jla_run / "results"), ("export", root)):
        done = janusfit_cli(*args)
        assert done.returncode == 2
        assert done.stderr.strip() == (
            f"janusfit {args[0]}: '{root}' has no finished run (no '<dataset>/<model>/"
            "summary.json'); 'janusfit status' shows where its runs stand"
        )
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before
