"""The RunContext a worker hands to generators: progress and logs go to the records."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from reel_sdk import RunContext

from reel_host.lifecycle import runs
from reel_host.lifecycle.fence import DB_ERRORS
from reel_host.lifecycle.runs import Claim
from reel_host.records.models import TaskLog, utcnow

log = logging.getLogger("reel.worker")


class HostRunContext(RunContext):
    """Persists progress (fenced by attempt) and learns of cancellation from the record.

    Progress is coalesced: at most one write per ``progress_every_s`` (the outcome carries
    1.0), and log lines ride along with it or with the outcome, so a fast task writes nothing
    until it ends. A new phase ("loading model", the first denoising step, "encoding MP4":
    the message with its numbers taken out changes) is written at once, so a watcher always
    sees what a run is doing, however fast its steps. A progress write that fails (database
    away) is skipped, not fatal.
    """

    progress_every_s = 0.25  # at most this often a progress row is written within a phase
    phase_every_s = 0.05     # ... and at most this often on phase changes
    poll_every_s = 0.25      # at most this often the record is read for cancellation

    def __init__(self, rt: object, claim: Claim, workdir: Path, device: str) -> None:
        logger = logging.Logger(f"reel.task.{claim.task.id}", logging.DEBUG)  # not registered: freed with the run
        logger.propagate = False
        super().__init__(workdir=workdir, device=device, log=logger, task_id=claim.task.id)
        self.rt = rt
        self.claim = claim
        # the claim just read the record: the first report and poll may wait their interval
        self._last_write = self._last_poll = time.monotonic()
        self._last_phase: str | None = None
        self._handler = TaskLogHandler(self)
        logger.addHandler(self._handler)

    def take_logs(self) -> list[TaskLog]:
        """The buffered log lines, handed to the write that carries them."""
        return self._handler.take()

    def flush_logs(self) -> None:
        lines = self.take_logs()
        if lines:
            try:
                runs.add_logs(self.rt, lines)  # type: ignore[arg-type]
            except DB_ERRORS as exc:
                log.warning("task %s: log lines not written (database unavailable: %s)", self.task_id, exc)

    def close(self) -> None:
        self.flush_logs()
        self.log.removeHandler(self._handler)

    def _report_progress(self, fraction: float, message: str | None) -> None:
        now = time.monotonic()
        since = now - self._last_write
        phase = _phase(message)
        new_phase = phase != self._last_phase and fraction < 1.0 and since >= self.phase_every_s
        if since < self.progress_every_s and not new_phase:
            return  # coalesced: the next report, or the outcome (which records 1.0), carries it
        self._last_write, self._last_phase = now, phase
        lines = self.take_logs()
        try:
            owned = runs.report_progress(self.rt, self.claim, fraction, message, lines)  # type: ignore[arg-type]
        except DB_ERRORS as exc:
            self._handler.put_back(lines)
            log.warning("task %s: progress not recorded (database unavailable: %s)", self.task_id, exc)
            return
        if not owned:
            self.cancel()  # cancelled, or this run was superseded: stop

    def _poll_cancelled(self) -> bool:
        now = time.monotonic()
        if now - self._last_poll < self.poll_every_s:
            return False
        self._last_poll = now
        try:
            return not runs.is_current(self.rt, self.claim)  # type: ignore[arg-type]
        except DB_ERRORS:
            return False  # cannot tell now: keep running, ask again later


def _phase(message: str | None) -> str:
    """What a progress message says the run is doing, without its counters ("step 3/20" → "step /")."""
    return "".join(ch for ch in message or "" if not ch.isdigit())


class TaskLogHandler(logging.Handler):
    """Keeps what a generator logs with its task (readable at /tasks/{id}/logs).

    Lines are buffered and written with the next progress report, when the run ends, or
    once ``max_delay_s`` passed, so logging rarely costs a round trip of its own.
    """

    max_delay_s = 1.0

    def __init__(self, ctx: HostRunContext) -> None:
        super().__init__(logging.DEBUG)
        self.ctx = ctx
        self.setFormatter(logging.Formatter("%(message)s"))
        self.pending: list[TaskLog] = []
        self._flushed_at = time.monotonic()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            claim = self.ctx.claim
            self.pending.append(TaskLog(task_id=claim.task.id, attempt=claim.attempt, level=record.levelname,
                                        message=self.format(record)[:10000], created_at=utcnow()))
            if time.monotonic() - self._flushed_at >= self.max_delay_s:  # a quiet generator's lines still show
                self.ctx.flush_logs()
        except DB_ERRORS:
            pass  # kept for the next write
        except Exception:
            self.handleError(record)

    def take(self) -> list[TaskLog]:
        self._flushed_at = time.monotonic()
        lines, self.pending = self.pending, []
        return lines

    def put_back(self, lines: list[TaskLog]) -> None:
        self.pending[:0] = lines
