"""What a running sampler has done so far, beside its checkpoints, for people and for ``janusfit status``.

When it starts or resumes and at every checkpoint, a sampler writes
``progress.json`` (its iteration, the numbers its stopping rule looks at, and
when this session started, from which ``janusfit status`` works out a rate
and an ETA; and ``earlier_s``, the seconds the earlier sessions of this
checkpoint sampled up to their last record, so that a run resumed after an
interruption is timed whole). emcee also draws ``progress.png``: the walkers' traces and ln p,
τ against the N/50 line, and the acceptance fraction, for watching a long run
without a notebook.

Neither may cost the sampler anything it would notice, nor break or corrupt
a run:

- the figure is drawn from a bounded thinned copy of the chain (at most
  ``FIGURE_ROWS`` steps), first ``progress_figure_seconds`` into the session
  and then at most once per that interval, and at the end if there is a
  figure to bring up to date: a run shorter than the interval never draws
  one. matplotlib is imported only when a figure is drawn;
- both files are replaced atomically (a reader or a kill sees the old file or
  the new one), without fsync: they are advice, rewritten at the next
  checkpoint, and the checkpoint itself is what must survive a power cut;
- any failure to write either is logged as a warning and the run goes on.

emcee's progress also watches for stuck walkers: the convergence job's
per-walker test of ln p (:func:`~janusfit.diagnostics.convergence.walker_deficits`)
runs on the later half of a thinned copy of ln p once that half lies past
the burn-in the convergence job will drop, and a walker over the threshold
is named in the log and in ``progress.json`` (``stuck_walkers``) while the run
goes on: a stuck walker stays stuck, and a long run need not be waited for to
learn that it will not converge.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from ..layout import PROGRESS_JSON, PROGRESS_PNG, checkpoint_runs
from .thinned import ThinnedChain

FIGURE_ROWS = 1000  # steps kept for the trace panels: a figure is about a thousand pixels wide
WATCH_ROWS = 1000  # steps of ln p kept for the stuck-walker test


def _replace(path: Path, write) -> None:
    """Write through ``write(tmp_path)`` to a temporary file beside ``path``, then rename it over ``path``."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class _Record:
    """progress.json of one sampler, written at each checkpoint; failures are logged, never raised."""

    sampler = ""

    def __init__(self, directory, warn=print):
        self.dir = Path(directory)
        self.warn = warn
        self.started: float | None = None
        self.start_iteration: int | None = None
        self.earlier_s = 0.0
        self._warned = set()

    def begin(self, iteration: int) -> None:
        """Sampling starts (or resumes) now at ``iteration``: the origin of the session's rate.

        The record the previous session left (if any) gives its sampling time,
        added to the sessions' before it.
        """
        self.started, self.start_iteration = time.time(), int(iteration)
        self.earlier_s = earlier_seconds(self.dir / PROGRESS_JSON)

    def _warn_once(self, what: str, exc: Exception) -> None:
        if what not in self._warned:
            self._warned.add(what)
            self.warn(
                f"could not write {what} in '{self.dir}' ({type(exc).__name__}: {exc}); "
                "sampling goes on, the checkpoint is not affected"
            )

    def write(self, iteration: int, **fields) -> None:
        if self.started is None:
            self.begin(iteration)
        record = {
            "sampler": self.sampler,
            "iteration": int(iteration),
            "time": time.time(),
            "session_started": self.started,
            "session_start_iteration": self.start_iteration,
            "earlier_s": round(self.earlier_s, 3),
            **fields,
        }
        try:
            text = json.dumps(record, indent=1) + "\n"
            _replace(self.dir / PROGRESS_JSON, lambda tmp: Path(tmp).write_text(text))
        except Exception as exc:  # noqa: BLE001 - advice must never stop a sampler
            self._warn_once(PROGRESS_JSON, exc)


def earlier_seconds(path: Path) -> float:
    """The sampling seconds of every session recorded in progress.json at ``path``, to its last record.

    0 without a readable record (a first session, or a checkpoint set aside).
    Time after a session's last record is not counted: a kill loses at most
    a checkpoint interval, which the next session samples again.
    """
    try:
        record = json.loads(Path(path).read_text())
        session = float(record["time"]) - float(record["session_started"])
        earlier = float(record.get("earlier_s", 0.0))
    except (OSError, ValueError, KeyError, TypeError):
        return 0.0
    return earlier + max(session, 0.0)


def earlier_sessions_s(checkpoint_dir, repeats: int | None = None) -> float:
    """The seconds that earlier sessions sampled for a job: of its checkpoint and of each of its ``repeats``' dynesty runs."""
    total = 0.0
    for directory in checkpoint_runs(checkpoint_dir, repeats):
        try:
            total += float(json.loads((directory / PROGRESS_JSON).read_text()).get("earlier_s", 0.0))
        except (OSError, ValueError, TypeError, AttributeError):
            continue
    return total


class EmceeProgress(_Record):
    """progress.json and progress.png of an emcee run.

    ``observe`` takes every segment of the chain (those resumed from and those
    just sampled); ``checkpoint`` is called after each committed segment, and
    with ``final=True`` once the chain is complete.
    """

    sampler = "emcee"

    def __init__(self, directory, settings, names, labels=None, warn=print, clock=time.monotonic):
        super().__init__(directory, warn)
        self.settings = settings
        self.names = list(names)
        self.labels = dict(labels or {})
        self.figure = bool(settings.progress_figure)
        self.clock = clock
        self.n_drawn = 0
        self._last_draw = clock()
        self._trace = ThinnedChain(FIGURE_ROWS) if self.figure else None
        self._acceptance: list[tuple[int, float]] = []
        self._steps = 0
        self._log_prob = ThinnedChain(WATCH_ROWS)
        self.stuck: list[int] = []

    def observe(self, chain: np.ndarray, log_prob: np.ndarray, accepted: np.ndarray) -> None:
        """One segment: (n, walkers, params) positions, (n, walkers) ln p, accepted moves per walker."""
        n = len(chain)
        self._steps += n
        if n:
            self._acceptance.append((self._steps, float(np.mean(accepted)) / n))
            self._log_prob.append(log_prob[:, :, None])
        if self._trace is not None:
            self._trace.append(np.concatenate([chain, log_prob[:, :, None]], axis=2))

    def _watch(self, iteration: int, last_tau) -> None:
        """Test each walker's ln p over the later half of the chain, once it lies past the burn-in; warn on a change.

        Its first call imports the diagnostics (scipy.linalg among them, about
        half a second): :meth:`checkpoint` calls it after writing the record,
        which must follow the committed segment at once.
        """
        from ..diagnostics.convergence import BURN_IN_TAU, stuck_walkers

        tau = np.atleast_1d(np.asarray(last_tau, dtype=float))
        if not np.all(np.isfinite(tau)) or iteration < 2 * BURN_IN_TAU * np.max(tau):
            return
        rows = self._log_prob.array()[:, :, 0].astype(float)
        later = rows[len(rows) // 2 :]
        limit = self.settings.max_walker_deficit
        deficits, frozen, stuck = stuck_walkers(later, limit)
        if stuck and stuck != self.stuck:
            walkers = ", ".join(map(str, stuck))
            worst = deficits[np.nanargmax(np.abs(deficits))]
            still = (
                f"; walker{'s' if len(frozen) > 1 else ''} {', '.join(map(str, frozen))} "
                f"{'have' if len(frozen) > 1 else 'has'} not moved in the last {len(later) * self._log_prob.thin} steps"
                if frozen
                else ""
            )
            self.warn(
                f"STUCK WALKER{'S' if len(stuck) > 1 else ''} at step {iteration}: walker{'s' if len(stuck) > 1 else ''} "
                f"{walkers} {'sit' if len(stuck) > 1 else 'sits'} up to {abs(worst):.1f} standard errors "
                f"{'below' if worst > 0 else 'above'} the others in ln p (convergence fails beyond {limit:g}){still}; "
                "running longer will not free a stuck walker: "
                "stop this run and start it afresh with another emcee.seed or emcee.moves: de_snooker "
                "(with on_change: restart)"
            )
        elif self.stuck and not stuck:
            self.warn(f"no walker is stuck any more at step {iteration}")
        self.stuck = stuck

    def _fields(self, tau_history, last_tau, final: bool) -> dict:
        s = self.settings
        tau = [float(t) for t in np.atleast_1d(last_tau)]
        return {
            "max_steps": s.max_steps,
            "n_over_tau_target": s.n_over_tau,
            "tau_rel_change_target": s.tau_rel_change,
            "stop_on_convergence": s.stop_on_convergence,
            "tau": dict(zip(self.names, tau)),
            "tau_history": [[int(it), float(t)] for it, t in tau_history],
            "acceptance": self._acceptance[-1][1] if self._acceptance else None,
            "final": final,
        }

    def start(self, iteration: int, tau_history, last_tau) -> None:
        """Sampling starts (or resumes) at ``iteration``: the record says so at once.

        Until the first checkpoint, ``janusfit status`` would otherwise show no
        iteration, or the previous session's record (its rate and time: an ETA
        of 0 s). Neither the stuck-walker test nor the figure runs here: they
        have nothing new to look at.
        """
        self.begin(iteration)
        self.write(iteration, **self._fields(tau_history, last_tau, final=False), stuck_walkers=self.stuck)

    def checkpoint(self, iteration: int, tau_history, last_tau, final: bool = False) -> None:
        record = self._fields(tau_history, last_tau, final)
        self.write(iteration, **record, stuck_walkers=self.stuck)
        before = self.stuck
        try:
            self._watch(iteration, last_tau)
        except Exception as exc:  # noqa: BLE001 - advice must never stop a sampler
            if "watch" not in self._warned:
                self._warned.add("watch")
                self.warn(f"the stuck-walker test failed ({type(exc).__name__}: {exc}); sampling goes on")
        if self.stuck != before:
            self.write(iteration, **record, stuck_walkers=self.stuck)
        if self.figure and (
            self.clock() - self._last_draw >= self.settings.progress_figure_seconds or final and self._shown()
        ):
            self._draw(iteration, tau_history)

    def _shown(self) -> bool:
        """Whether there is a figure to bring up to date at the end (drawn now or by an earlier session)."""
        return self.n_drawn > 0 or (self.dir / PROGRESS_PNG).exists()

    def _draw(self, iteration, tau_history) -> None:
        self._last_draw = self.clock()
        try:
            from .progress_figure import progress_figure  # matplotlib only when a figure is drawn

            rows = self._trace.array()
            steps = (np.arange(len(rows)) + 1) * self._trace.thin - 1
            labels = [self.labels.get(n, n) for n in self.names]
            run = f"{self.dir.parent.parent.name}/{self.dir.parent.name}"  # checkpoints/{dataset}/{model}/emcee
            title = f"{run} (emcee): step {iteration} of at most {self.settings.max_steps}"
            fig = progress_figure(
                steps,
                rows[:, :, :-1],
                rows[:, :, -1],
                labels,
                tau_history,
                self._acceptance,
                self.settings.n_over_tau,
                title,
            )
            _replace(self.dir / PROGRESS_PNG, lambda tmp: fig.savefig(tmp, format="png", dpi=fig.dpi))
            self.n_drawn += 1
        except Exception as exc:  # noqa: BLE001 - a figure must never stop a sampler
            self._warn_once(PROGRESS_PNG, exc)


class DynestyProgress(_Record):
    """progress.json of a dynesty run."""

    sampler = "dynesty"

    def __init__(self, directory, settings, warn=print):
        super().__init__(directory, warn)
        self.settings = settings

    def start(self, sampler) -> None:
        """Sampling starts (or resumes) at ``sampler``'s iteration: the record says so at once (see ``EmceeProgress.start``)."""
        self.begin(_iterations_done(sampler))
        self.checkpoint(sampler)

    def checkpoint(self, sampler, delta_logz=None, logz=None, final: bool = False) -> None:
        s = self.settings
        self.write(
            _iterations_done(sampler),
            calls=int(getattr(sampler, "ncall", 0)),
            nlive=s.nlive,
            dlogz_target=s.dlogz,
            method=s.method,
            delta_logz=None if delta_logz is None else float(delta_logz),
            logz=None if logz is None else float(logz),
            final=final,
        )


def _iterations_done(sampler) -> int:
    """dynesty's iterations so far: its ``it`` is the next one's number (``results.niter`` is ``it - 1``)."""
    return max(int(getattr(sampler, "it", 1)) - 1, 0)
