"""What every checkpointed sampling job does around its sampler.

A :class:`CheckpointSession` holds the checkpoint directory's lock and lease
(``lock.py``) for the whole job, checks the stored fingerprint against the
current one (or moves the old checkpoint aside when ``on_change`` is
``restart``), records where each resume continued from, and turns SIGTERM and
SIGINT into a request to write a checkpoint and stop, instead of dying
mid-step.

A refused checkpoint (made with other inputs, or without its fingerprint)
is left untouched; the refusal is recorded beside it, in
``<dir>.refused.json``, so that ``janusfit status`` can say why the run does
not go on instead of offering a rerun that fails the same way. So is a
checkpoint the sampler finds it cannot use once it reads it (a file the
system will not read, a generation dynesty cannot restore), but not one
whose lease another sampler took over, which that sampler goes on with. The
next session that accepts or sets aside the checkpoint removes the record.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

from ..atomic import atomic_write_json
from ..errors import CheckpointError, ConfigError, FingerprintError, JanusfitError, LeaseLostError
from ..layout import belongs_to_a_repeat, refusal_path
from .fingerprint import check_fingerprint, same_values, write_fingerprint
from .invocation import snakemake_invocation
from .lock import LEASE_TIMEOUT_S, CheckpointLock
from .registry import checkpoint_files
from .store import FINGERPRINT, refused_to_read, set_aside, supersede


class Interrupted(JanusfitError):
    """A signal stopped the sampler; ``iteration`` is where its checkpoint ends (−1: the last periodic one)."""

    def __init__(self, signum: int, iteration: int):
        self.signum = signum
        self.iteration = iteration
        where = (
            f"at iteration {iteration} after writing a checkpoint"
            if iteration >= 0
            else "(its last periodic checkpoint is kept)"
        )
        super().__init__(
            f"stopped by {signal.Signals(signum).name} {where}; "
            "rerun with 'snakemake --rerun-incomplete' to continue from it"
        )


class CheckpointSession:
    def __init__(
        self,
        directory,
        fingerprint: dict,
        on_change: str = "error",
        log=print,
        lock_timeout_s: float | None = None,
        graceful: bool = True,
        lease_timeout_s: float = LEASE_TIMEOUT_S,
    ):
        if on_change not in ("error", "restart"):
            raise ConfigError("on_change", f"must be 'error' or 'restart', not {on_change!r}")
        self.dir = Path(directory)
        self.fingerprint = fingerprint
        self.on_change = on_change
        self.log = log
        self.lock = CheckpointLock(self.dir, timeout_s=lock_timeout_s, log=log, lease_timeout_s=lease_timeout_s)
        self.graceful = graceful
        self.stop_signal: int | None = None
        self._old_handlers = {}

    @property
    def _fp_path(self) -> Path:
        return self.dir / FINGERPRINT

    @property
    def _resumes_path(self) -> Path:
        return self.dir / "resumes.json"

    @property
    def _refusal_path(self) -> Path:
        return refusal_path(self.dir)

    def __enter__(self):
        self.lock.acquire()
        try:
            self._check_or_start()
        except CheckpointError as exc:
            self._record_refusal(exc)
            self.lock.release()
            raise
        except BaseException:
            self.lock.release()
            raise
        self._refusal_path.unlink(missing_ok=True)
        for signum in (signal.SIGTERM, signal.SIGINT):
            self._old_handlers[signum] = signal.signal(signum, self._on_signal)
        return self

    def __exit__(self, exc_type, exc, traceback):
        for signum, handler in self._old_handlers.items():
            signal.signal(signum, handler)
        if isinstance(exc, CheckpointError) and not isinstance(exc, LeaseLostError):
            self._record_refusal(exc)
        self.lock.release()

    def _record_refusal(self, exc: CheckpointError) -> None:
        # With the command that was refused: it, not the last accepted one, is what to run again.
        atomic_write_json(
            self._refusal_path, {"time": time.time(), "message": str(exc), "invocation": snakemake_invocation()}
        )

    def _on_signal(self, signum, frame):
        if not self.graceful or (self.stop_signal is not None and signum == signal.SIGINT):
            # A sampler loop that cannot poll the flag, or Ctrl-C pressed
            # again (the user insists): stop now and resume from the last checkpoint.
            raise Interrupted(signum, -1)
        if self.stop_signal is not None:
            # The same request again: at a time limit SLURM signals every
            # process of the job step, and srun forwards its own SIGTERM too.
            return
        self.stop_signal = signum
        self.log(f"received {signal.Signals(signum).name}: writing a checkpoint before stopping")

    def stopped(self, iteration: int) -> Interrupted:
        """The exception that ends a sampler a signal stopped once its checkpoint at ``iteration`` is written.

        Logged now, while a repeated signal is still ignored: at a time limit
        SLURM's signals keep coming, and one after this session has given the
        handlers back ends the process before the exception is reported.
        """
        self.log(f"wrote a checkpoint at iteration {iteration} after {signal.Signals(self.stop_signal).name}; stopping")
        return Interrupted(self.stop_signal, iteration)

    def verify_lease(self) -> None:
        """Raise unless this job still holds the checkpoint; the samplers call it before every checkpoint write."""
        self.lock.verify()

    @property
    def stop_requested(self) -> bool:
        return self.stop_signal is not None

    def _check_or_start(self) -> None:
        stored = self._stored_fingerprint() if self._fp_path.exists() else None
        if stored is not None:
            stored, mended = same_values(stored, self.fingerprint)
            try:
                rewritten = check_fingerprint(stored, self.fingerprint, self.dir)
            except FingerprintError as exc:
                if self.on_change != "restart":
                    raise
                supersede(
                    self.dir,
                    log=self.log,
                    why=f"it was made with different inputs ({'; '.join(exc.differences)})",
                    keep=belongs_to_a_repeat,
                )
            else:
                if rewritten:
                    self.log(
                        f"the data files of {', '.join(rewritten)} differ in their bytes from the checkpoint's "
                        "(sha256) while the numbers read from them are the same (arrays_sha256): resuming, and "
                        "the checkpoint's fingerprint now records today's files"
                    )
                if mended:
                    self.log(
                        "the checkpoint was made with other code of the posterior, which changes no value "
                        "of this run: " + "; ".join(mended) + ". Resuming, and the checkpoint's fingerprint now "
                        "records today's code"
                    )
                if rewritten or mended:
                    write_fingerprint(self._fp_path, self.fingerprint)
                return
        elif not self._fp_path.exists() and (found := checkpoint_files(self.dir)):
            self._refuse_unfingerprinted(found)
        self.dir.mkdir(parents=True, exist_ok=True)
        write_fingerprint(self._fp_path, self.fingerprint)

    def _stored_fingerprint(self) -> dict | None:
        """The checkpoint's fingerprint; one that cannot be read is refused, or under ``on_change: restart`` set aside (None).

        Like samples without a fingerprint: what the checkpoint was made with cannot be checked.
        """
        try:
            data = self._fp_path.read_bytes()
        except OSError as exc:
            raise refused_to_read(exc, self._fp_path) from None
        try:
            stored = json.loads(data)
            if not isinstance(stored, dict):
                raise ValueError(f"it holds {json.dumps(stored)[:40]}, not the JSON object of keys janusfit writes")
            return stored
        except ValueError as exc:
            what = f"checkpoint fingerprint '{self._fp_path}' cannot be read ({exc})"
            if self.on_change != "restart":
                raise CheckpointError(
                    f"{what}; the checkpoint was left untouched. Restore the file to resume it, or set "
                    "on_change: restart (or move the directory aside) to start afresh."
                ) from None
            self.log(what)
            supersede(self.dir, log=self.log, why="its fingerprint.json cannot be read", keep=belongs_to_a_repeat)
            return None

    def _refuse_unfingerprinted(self, found: list[Path]) -> None:
        """Samples without the fingerprint written before them: copied in part, or the file deleted.

        Resuming them would write today's fingerprint over samples made with
        unknown data, priors, settings or code, and nothing could tell after.
        """
        what = (
            f"checkpoint '{self.dir}' holds samples ({len(found)} file(s), '{found[0].relative_to(self.dir)}' "
            "first) but no fingerprint.json, so what they were made with (data, priors, settings, code) cannot "
            "be checked"
        )
        if self.on_change != "restart":
            raise CheckpointError(
                f"{what}; the checkpoint was left untouched. Restore its fingerprint.json to resume it, or set "
                "on_change: restart (or move the directory aside) to start afresh."
            )
        self.log(what)
        supersede(self.dir, log=self.log, why="its samples have no fingerprint", keep=belongs_to_a_repeat)

    @property
    def resumes(self) -> list[int]:
        """Where each earlier session resumed; a record that cannot be read is set aside, named in the log."""
        try:
            data = self._resumes_path.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise refused_to_read(exc, self._resumes_path) from None
        try:
            return [int(v) for v in json.loads(data)]
        except (ValueError, TypeError) as exc:
            # Written over, the history would be gone without a word; the run itself is not at stake.
            aside = set_aside(self._resumes_path)
            self.log(
                f"WARNING the resume record '{self._resumes_path}' cannot be read ({exc}); it was moved to "
                f"'{aside}', and the resumes it held are not listed in this run's results"
            )
            return []

    def record_resume(self, iteration: int) -> None:
        """Record a resume at ``iteration``, dropping those beyond it.

        A resume beyond where the checkpoint now ends continued work that was
        set aside since (damaged segments or generations): it is not in the
        history of the run's result.
        """
        self.log(f"resuming from checkpoint at iteration {iteration}")
        atomic_write_json(self._resumes_path, [r for r in self.resumes if r <= iteration] + [int(iteration)])

    def forget_resumes_from(self, iteration: int) -> None:
        """Drop the resumes at or after ``iteration``: the run goes on from a state made before them, or afresh (0)."""
        resumes = self.resumes
        if any(r >= iteration for r in resumes):
            atomic_write_json(self._resumes_path, [r for r in resumes if r < iteration])
