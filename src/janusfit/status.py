"""Where every run under a results root stands: done, running, interrupted or not started.

Read from the files alone, while the workflow runs or after it stopped:

- a sampler is *running* while a process holds its checkpoint lock
  (``<checkpoint>.lock``, an ``flock`` the kernel drops when the holder dies
  however it dies), or while its job's process (``job.json``) lives on after
  sampling to write its results; *done* when its final output exists and
  is newer than the job's inputs (the dataset's ``data.json``, the run's
  ``resources.json``: one newer is a rerun Snakemake will make);
  *refused* when the last job to open its checkpoint refused it (made with
  other inputs, or a file of it the system will not read, see
  ``sampling.session``): a rerun fails the same way until what the refusal
  says is mended (the inputs put back, ``on_change: restart`` setting the
  checkpoint aside, read access given back); *interrupted* when it has a checkpoint (or its job started, as
  ``invocation.json`` says) but no output and no one runs it; else *not
  started*;
- a run is *running* when a sampler of it runs or the Snakemake process that
  ran it is still alive (its jobs may be waiting for a slot); *refused* when
  a sampler of it is; *done* when every sampler is done and its
  ``summary.json`` is newer than the files it is made from; *not started*
  when no sampler started; else *interrupted*: it needs the workflow to run
  again.

The iteration, the numbers the stopping rule looks at and the session's rate
come from the newest ``progress.json`` beside the checkpoint; the resume
command from the ``invocation.json`` a sampling job recorded (the Snakemake
command line that started it and where it ran), or from its refusal, newer.
"""

from __future__ import annotations

import fcntl
import json
import math
import shlex
import socket
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

from .formatting import beside
from .layout import (
    DATA,
    INVOCATION,
    JOB,
    OVERVIEW_CSV,
    PROGRESS_JSON,
    RESOURCES,
    SAMPLER_OUTPUT,
    SAMPLERS,
    SUMMARY,
    Run,
    checkpoint_runs,
    find_runs,
    left_over,
    refusal_path,
)
from .sampling.invocation import alive, is_snakemake
from .sampling.registry import SAMPLERS as REGISTRY
from .sampling.registry import checkpoint_files

DONE, RUNNING, REFUSED, INTERRUPTED, NOT_STARTED = "done", "running", "refused", "interrupted", "not started"
RERUN_FLAGS = ("--rerun-incomplete", "--ri", "--unlock")


@dataclass
class SamplerStatus:
    sampler: str
    state: str
    iteration: int | None = None
    target: str = ""
    last_update: float | None = None
    eta_s: float | None = None
    converged: bool | None = None
    convergence: str = ""
    refusal: str = ""  # the refusing job's message, while the refusal stands


@dataclass
class RunStatus:
    run: str
    state: str
    samplers: list[SamplerStatus] = field(default_factory=list)
    converged: bool | None = None
    last_update: float | None = None
    resume: str | None = None
    data_unread: bool = False

    def to_json(self) -> dict:
        return asdict(self)


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def lock_held(checkpoint_dir: Path) -> bool:
    """Whether a process holds the sampler lock beside ``checkpoint_dir`` (a shared lock would block)."""
    path = checkpoint_dir.with_name(checkpoint_dir.name + ".lock")
    try:
        fh = open(path)
    except OSError:
        return False
    with fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    return False


def _newest_mtime(paths) -> float | None:
    times = [p.stat().st_mtime for p in paths if p.exists()]
    return max(times) if times else None


def run_samplers(run: Run) -> list[str]:
    """The samplers of a run: those its pre-flight job planned, else those that left files."""
    planned = _read_json(run.dir / RESOURCES)
    if planned:
        return [s for s in SAMPLERS if s in planned]
    present = [s for s in SAMPLERS if run.checkpoint_dir(s).exists() or (run.dir / SAMPLER_OUTPUT[s]).exists()]
    return present or list(SAMPLERS)


def _emcee_numbers(status: SamplerStatus, progress: dict, now: float, running: bool) -> None:
    it = status.iteration
    status.target = f"of at most {progress['max_steps']} steps"
    tau = [t for t in (progress.get("tau") or {}).values() if t is not None and math.isfinite(t)]
    target_n = progress.get("n_over_tau_target", 50.0)
    if tau:
        n_tau = it / max(tau)
        shown = f"{n_tau:.0f}" if f"{n_tau:.0f}" != f"{target_n:.0f}" else f"{n_tau:.2f}"  # 49.6, not "50 (needs > 50)"
        rule = (
            "the stopping rule needs"
            if progress.get("stop_on_convergence", True)
            else "the stopping rule is off; on, it needs"
        )
        status.convergence = f"so far N/tau {shown} ({rule} > {target_n:g})"
    stuck = progress.get("stuck_walkers") or []
    if stuck:
        status.convergence = "; ".join(
            filter(
                None, [status.convergence, f"STUCK: walker{'s' if len(stuck) > 1 else ''} {', '.join(map(str, stuck))}"]
            )
        )
    if running:
        rate = _rate(progress)
        goal = progress["max_steps"]
        if tau and progress.get("stop_on_convergence"):
            goal = min(goal, max(it, math.ceil(target_n * max(tau))))
        status.eta_s = _eta(goal - it, rate, progress, now)


def _dynesty_numbers(status: SamplerStatus, progress: dict, now: float, running: bool) -> None:
    delta, goal = progress.get("delta_logz"), progress.get("dlogz_target")
    status.target = "iterations"
    if delta is not None and goal is not None:
        status.convergence = f"so far dlogz {beside(delta, goal)} (needs < {goal:g})"
        if running:
            # In the tail of nested sampling the live points' share of the
            # evidence, r = exp(dlogz) - 1, shrinks by e per nlive iterations.
            remaining = 0.0
            if delta > goal:
                remaining = progress["nlive"] * math.log(math.expm1(delta) / math.expm1(goal))
            status.eta_s = _eta(remaining, _rate(progress), progress, now)


def _rate(progress: dict) -> float | None:
    done = progress["iteration"] - progress.get("session_start_iteration", progress["iteration"])
    elapsed = progress["time"] - progress.get("session_started", progress["time"])
    return done / elapsed if done > 0 and elapsed > 0 else None


def _eta(remaining: float, rate: float | None, progress: dict, now: float) -> float | None:
    if rate is None:
        return None
    return max(0.0, remaining / rate - (now - progress["time"]))


def _refusal(ck: Path) -> str:
    """The message of the standing refusal of ``ck``'s checkpoint or of a repeat's, else ''.

    A refusal stands while its checkpoint is there: moved aside by hand, as
    the message advises, the next job starts afresh.
    """
    for directory in checkpoint_runs(ck):
        if not directory.is_dir():
            continue
        record = _read_json(refusal_path(directory))
        if record:
            return record.get("message", "")
    return ""


def _newest_progress(ck: Path) -> tuple[dict | None, str, Path]:
    """The newest progress record of the run in ``ck`` or of a dynesty repeat's (``repeat-k``), its repeat and path.

    With ``dynesty.repeats`` the runs go one after the other, each in its own
    directory: the one written last is the one sampling, or interrupted.
    """
    records = [(_read_json(d / PROGRESS_JSON), d) for d in checkpoint_runs(ck)]
    records = [(p, d) for p, d in records if p]
    if not records:
        return None, "", ck / PROGRESS_JSON
    progress, directory = max(records, key=lambda r: r[0].get("time", 0.0))
    return progress, "" if directory == ck else directory.name, directory / PROGRESS_JSON


def _older_than_inputs(run: Run, output: Path) -> bool:
    """A sampler's output older than its job's inputs: the data changed since (a refused rerun leaves it).

    Without the dataset's ``data.json`` the data were not read since: their
    reading failed (Snakemake removes the outputs of a failed job), so what
    the output was made from is no longer what the data file holds.
    """
    made = output.stat().st_mtime
    data = run.dir.parent / DATA
    return not data.exists() or any(p.exists() and p.stat().st_mtime > made for p in (data, run.dir / RESOURCES))


def sampler_status(run: Run, sampler: str, summary: dict | None, now: float) -> SamplerStatus:
    ck = run.checkpoint_dir(sampler)
    output = run.dir / SAMPLER_OUTPUT[sampler]
    progress, repeat, progress_path = _newest_progress(ck)
    refusal = ""
    if lock_held(ck):
        state = RUNNING
    elif output.exists() and not _older_than_inputs(run, output):
        state = DONE
    elif refusal := _refusal(ck):
        state = REFUSED
    elif checkpoint_files(ck) or (ck / INVOCATION).exists():
        # A job killed before its first checkpoint recorded its invocation: it started, and Snakemake's lock stayed.
        job = _read_json(ck / JOB)
        state = RUNNING if job and alive(job) else INTERRUPTED
    else:
        state = NOT_STARTED
    status = SamplerStatus(sampler, state, last_update=_newest_mtime([progress_path, output]), refusal=refusal)
    if state == DONE:
        final = _read_json(output) or {}
        status.iteration = final.get("n_steps", final.get("n_iter"))
        runs = (final.get("repeats") or {}).get("n", 1)
        status.target = "steps" if sampler == "emcee" else "iterations" + (f" in {runs} runs" if runs > 1 else "")
        if sampler == "emcee" and summary and "emcee" in summary:
            status.converged = bool(summary["emcee"].get("converged"))
            failures = summary["emcee"].get("convergence_failures") or []
            status.convergence = (
                "all checks pass" if status.converged else "; ".join(failures) or "stopping rule not met"
            )
        elif sampler == "dynesty" and not final.get("complete", True):
            status.converged = False
            status.convergence = (
                f"INCOMPLETE: maxiter {final['maxiter']} stopped it at dlogz {beside(final['dlogz_remaining'], final['dlogz'])} "
                f"(needs < {final['dlogz']:g})"
            )
        elif sampler == "dynesty" and (progress or {}).get("method") == "dynamic":
            # dlogz is the baseline run's (dynesty's dlogz_init); the batches after it stop by dynesty's own rule.
            status.converged = True
            status.convergence = f"dynamic: baseline to dlogz < {final.get('dlogz', '?')}, then batches"
        elif sampler == "dynesty":
            status.converged, status.convergence = True, f"dlogz < {final.get('dlogz', '?')}"
        return status
    if progress:
        status.iteration = progress["iteration"]
        numbers = _emcee_numbers if sampler == "emcee" else _dynesty_numbers
        numbers(status, progress, now, state == RUNNING)
        if repeat:
            status.target += f" in {repeat}"
    return status


def _invocations(root: Path, run: Run | None = None) -> list[dict]:
    """Recorded invocations (newest first): of ``run``'s samplers, else of any run under ``root``.

    A job that refused its checkpoint records its command in the refusal,
    not in invocation.json: that command (a ``--configfile`` added, say) is
    the one to run again, not the last one whose job went on.
    """
    dirs = [run.checkpoint_dir(s) for s in SAMPLERS] if run else list((root / "checkpoints").glob("*/*/*"))
    dirs = [d for ck in dirs for d in checkpoint_runs(ck)]
    records = [_read_json(d / INVOCATION) for d in dirs]
    records += [(_read_json(refusal_path(d)) or {}).get("invocation") for d in dirs if d.is_dir()]
    return sorted((r for r in records if r), key=lambda r: r.get("recorded", 0), reverse=True)


def configfiles(argv: list[str]) -> tuple[str, ...]:
    """The ``--configfile`` arguments of a Snakemake command line, in order."""
    out, taking = [], False
    for arg in argv:
        if arg in ("--configfile", "--configfiles"):
            taking = True
        elif arg.startswith(("--configfile=", "--configfiles=")):
            out.append(arg.split("=", 1)[1])
            taking = False
        elif taking and not arg.startswith("-"):
            out.append(arg)
        else:
            taking = False
    return tuple(out)


def workflow_alive(record: dict) -> bool:
    """The recorded Snakemake process is alive, or another Snakemake runs the same config files in its directory.

    Another config in the same directory (config/public.yaml beside the
    default) is another workflow, with its own results: not this one running.
    """
    if alive(record):
        return True
    if record.get("host") != socket.gethostname():
        return False
    wanted = configfiles(record.get("argv", []))
    for proc in psutil.process_iter(["cmdline", "cwd"]):
        try:
            cmdline = proc.info["cmdline"]
            if cmdline and is_snakemake(cmdline) and proc.info["cwd"] == record.get("cwd"):
                if configfiles(cmdline) == wanted:
                    return True
        except (psutil.Error, KeyError):
            continue
    return False


def resume_command(record: dict | None, alive_now: bool, root) -> str:
    """The command that continues the workflow of results root ``root`` from its checkpoints."""
    if not record or record.get("spawned"):
        return (
            "rerun the command that started the workflow, with --rerun-incomplete "
            "(after 'snakemake --unlock' if Snakemake says the directory is locked)"
        )
    argv = list(record["argv"])
    if len(argv) > 1 and Path(argv[1]).name == "snakemake" and Path(argv[0]).name.startswith("python"):
        argv = argv[1:]  # the interpreter running the snakemake script: the user typed the script
    args = [a for a in argv if a not in RERUN_FLAGS]
    workdir = Path(record.get("workdir", record["cwd"]))
    if not Path(root).resolve().is_relative_to(workdir.resolve()):
        # Moved or copied since: a cd to where it ran would resume the original, or fail.
        return (
            f"from the directory the project is in now (it was in {record['cwd']} when the workflow started): "
            + " && ".join(shlex.join(args + [flag]) for flag in ("--unlock", "--rerun-incomplete"))
        )
    steps = []
    locks = workdir / ".snakemake" / "locks"
    if not alive_now and locks.is_dir() and any(locks.iterdir()):
        steps.append(shlex.join(args + ["--unlock"]))
    steps.append(shlex.join(args + ["--rerun-incomplete"]))
    return f"cd {shlex.quote(record['cwd'])} && " + " && ".join(steps)


def current_summary(run: Run, samplers: list[str]) -> dict | None:
    """``summary.json`` if it is newer than every file it is made from (each sampler's summary inputs), else None.

    A summary older than its chain (a rerun under way, or a convergence job
    that failed on a new chain with ``--keep-going``) speaks of results that
    are no longer there: its verdict must not be shown as the run's.
    """
    path = run.dir / SUMMARY
    summary = _read_json(path)
    if summary is None:
        return None
    made = path.stat().st_mtime
    for sampler in samplers:
        for name in REGISTRY[sampler].summary_inputs.values():
            source = run.dir / name
            if not source.exists() or source.stat().st_mtime > made:
                return None
    return summary


def run_status(run: Run, now: float | None = None) -> RunStatus:
    now = time.time() if now is None else now
    names = run_samplers(run)
    summary = current_summary(run, names)
    samplers = [sampler_status(run, s, summary, now) for s in names]
    states = {s.state for s in samplers}
    records = _invocations(run.root, run)
    alive_now = bool(records) and workflow_alive(records[0])
    if RUNNING in states or (alive_now and not (states == {DONE} and summary)):
        state = RUNNING
    elif REFUSED in states:
        state = REFUSED
    elif states == {DONE} and summary is not None:
        state = DONE
    elif states == {NOT_STARTED}:
        state = NOT_STARTED
    else:
        state = INTERRUPTED
    converged = None
    stale = summary is None and (run.dir / SUMMARY).exists()  # emcee's verdict unknown, so the run's too
    verdicts = [s.converged for s in samplers]
    if summary and "emcee" in summary:
        converged = bool(summary["emcee"].get("converged"))
    elif False in verdicts:
        converged = False
    elif not stale and verdicts and None not in verdicts:
        # Every sampler's verdict is known: emcee's is the summary's, so without one, the run's is unknown.
        converged = True
    updates = [s.last_update for s in samplers if s.last_update] + [_newest_mtime([run.dir / SUMMARY]) or 0]
    status = RunStatus(
        run.key, state, samplers, converged, max(updates) or None, data_unread=not (run.dir.parent / DATA).exists()
    )
    if state in (INTERRUPTED, REFUSED):
        records = records or _invocations(run.root)
        status.resume = resume_command(records[0] if records else None, alive_now, run.root)
    return status


def results_status(root, now: float | None = None) -> tuple[list[RunStatus], list[str]]:
    """The status of every run under ``root``, and the keys of the runs the config no longer has (not shown).

    Raises NotAResultsRoot when ``root`` holds no run.
    """
    runs = find_runs(root)
    gone = left_over(root, runs)
    return [run_status(run, now) for run in runs if run not in gone], [run.key for run in gone]


def unfinished_overview(root, statuses: list[RunStatus]) -> str | None:
    """What to say when every run is done but the workflow stopped before its overview caught up, else None.

    The overview (``overview.csv``) and the report are made last, from every
    run's summary: missing, or older than a summary, after a kill or a failed
    job in that last stage, the report on disk shows earlier results.
    """
    if not statuses or any(st.state != DONE for st in statuses):
        return None
    overview = Path(root) / OVERVIEW_CSV
    newest = max((Path(root) / st.run / SUMMARY).stat().st_mtime for st in statuses)
    if overview.exists() and overview.stat().st_mtime >= newest:
        return None
    records = _invocations(Path(root))
    if records and workflow_alive(records[0]):
        return None
    why = "is missing" if not overview.exists() else "is older than the runs' summaries"
    return (
        f"Every run is done, but {overview} {why}: the workflow stopped before its overview and report, and "
        "report.html, if there is one, shows earlier results. To finish the workflow:\n"
        f"  {resume_command(records[0] if records else None, False, root)}"
    )


def _age(t: float | None, now: float) -> str:
    if not t:
        return "-"
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))
    return f"{stamp} ({duration(now - t)} ago)"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def _converged(value: bool | None, detail: str) -> str:
    """'yes'/'no' with the reason for a finished sampler; how far it got for one that is not."""
    if value is None:
        return detail or "-"
    word = "yes" if value else "NO"
    return f"{word}: {detail}" if detail else word


def format_status(statuses: list[RunStatus], now: float | None = None, left_over_keys=()) -> str:
    """A table of every run and its samplers, then how to resume the interrupted ones.

    ``left_over_keys``: runs on disk that the config no longer has, named below the table.
    """
    now = time.time() if now is None else now
    rows = [("run", "state", "sampler", "iteration", "last update", "ETA", "converged")]
    for st in statuses:
        for i, s in enumerate(st.samplers):
            iteration = "-" if s.iteration is None else f"{s.iteration} {s.target}".strip()
            rows.append(
                (
                    st.run if i == 0 else "",
                    st.state if i == 0 else "",
                    f"{s.sampler} ({s.state})",
                    iteration,
                    _age(s.last_update, now),
                    duration(s.eta_s) if s.state == RUNNING else "-",
                    _converged(s.converged, s.convergence),
                )
            )
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]) - 1)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r[:-1], widths)) + "  " + r[-1] for r in rows]
    counts = {}
    for st in statuses:
        counts[st.state] = counts.get(st.state, 0) + 1
    if not statuses:
        return "no run has reached its pre-flight job yet"
    plural = "" if len(statuses) == 1 else "s"
    lines += ["", f"{len(statuses)} run{plural}: " + ", ".join(f"{n} {state}" for state, n in counts.items())]
    if left_over_keys:
        lines.append(
            f"Not shown: {', '.join(left_over_keys)}, on disk but not in {OVERVIEW_CSV} (runs the config that last "
            "finished the workflow no longer has)"
        )
    refused = [(st, s) for st in statuses if st.state == REFUSED for s in st.samplers if s.refusal]
    if refused:
        lines += ["", "The last job of these samplers refused their checkpoint, which is left as it was:"]
        for st, s in refused:
            lines += [f"  {st.run} {s.sampler}: " + s.refusal.replace("\n", "\n    ")]
        commands = sorted({st.resume for st, _ in refused if st.resume})
        lines += [
            "",
            "Once what each message says is mended (the inputs put back, or 'on_change: restart' set), rerun:",
        ]
        lines += [f"  {command}" for command in commands]
    unread = sorted({st.run.split("/")[0] for st in statuses if st.data_unread})
    if unread:
        lines += [""] + [
            f"The data of {d} are not read: {d}/{DATA} is missing, their reading failed (logs/inspect_data/{d}.log "
            "says why); what its runs' pages show is of the data as they were before. Mend the data file, then resume."
            for d in unread
        ]
    commands = sorted({st.resume for st in statuses if st.state == INTERRUPTED and st.resume})
    for command in commands:
        lines += ["", "To resume the interrupted runs from their checkpoints:", f"  {command}"]
    return "\n".join(lines)
