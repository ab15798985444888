"""The RunContext a worker hands to generators: progress and logs go to the records."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from reel_sdk import RunContext
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from reel_host.records.db import rowcount
from reel_host.records.models import Task, TaskLog, utcnow
from reel_host.runtime import Runtime
from reel_host.services.events import TaskEvents


class HostRunContext(RunContext):
    """Persists progress (fenced by attempt) and learns of cancellation from the record."""

    progress_every_s = 0.1  # at most this often a progress row is written (the last one always is)
    poll_every_s = 0.25     # at most this often the record is read for cancellation

    def __init__(self, rt: Runtime, task: Task, attempt: int, workdir: Path, device: str) -> None:
        logger = logging.getLogger(f"reel.task.{task.id}")
        logger.setLevel(logging.DEBUG)
        logger.propagate = False
        super().__init__(workdir=workdir, device=device, log=logger, task_id=task.id)
        self.rt = rt
        self.task = task
        self.attempt = attempt
        self._sessions: sessionmaker[Session] = rt.sessions
        # the claim just read the record: the first report and poll may wait their interval
        self._last_write = self._last_poll = time.monotonic()
        self.events = TaskEvents(rt)
        self._handler = TaskLogHandler(self._sessions, task.id, attempt)
        logger.addHandler(self._handler)

    def flush_logs_into(self, session: Session) -> None:
        self._handler.flush_into(session)

    def flush_logs(self) -> None:
        """Write buffered log lines now (progress writes carry them otherwise)."""
        if self._handler.pending:
            with self._sessions() as session:
                self._handler.flush_into(session)
                session.commit()

    def close(self) -> None:
        self.flush_logs()
        self.log.removeHandler(self._handler)

    def _fence(self):  # type: ignore[no-untyped-def]
        return (Task.id == self.task_id, Task.attempts == self.attempt, Task.status == "running")

    def _report_progress(self, fraction: float, message: str | None) -> None:
        now = time.monotonic()
        if fraction < 1 and now - self._last_write < self.progress_every_s:
            return
        self._last_write = now
        with self._sessions() as session:
            done = session.execute(
                update(Task).where(*self._fence()).values(progress=fraction, message=message, updated_at=utcnow())
            )
            if rowcount(done) == 0:
                session.commit()
                self.cancel()  # cancelled, or this run was superseded: stop
                return
            self._handler.flush_into(session)
            if self.events.has_sinks:
                self.events.emit(session, session.get(Task, self.task_id), "progress")  # type: ignore[arg-type]
            session.commit()

    def _poll_cancelled(self) -> bool:
        now = time.monotonic()
        if now - self._last_poll < self.poll_every_s:
            return False
        self._last_poll = now
        with self._sessions() as session:
            row = session.execute(select(Task.status, Task.attempts).where(Task.id == self.task_id)).first()
        return row is None or row.status != "running" or row.attempts != self.attempt


class TaskLogHandler(logging.Handler):
    """Keeps what a generator logs with its task (readable at /tasks/{id}/logs).

    Lines are buffered and written with the next progress report, when the run
    ends, or once ``max_delay_s`` passed, so logging rarely costs a round trip of its own.
    """

    max_delay_s = 1.0

    def __init__(self, sessions: sessionmaker[Session], task_id: str, attempt: int) -> None:
        super().__init__(logging.DEBUG)
        self.sessions, self.task_id, self.attempt = sessions, task_id, attempt
        self.setFormatter(logging.Formatter("%(message)s"))
        self.pending: list[TaskLog] = []
        self._flushed_at = time.monotonic()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.pending.append(TaskLog(task_id=self.task_id, attempt=self.attempt, level=record.levelname,
                                        message=self.format(record)[:10000], created_at=utcnow()))
            if time.monotonic() - self._flushed_at >= self.max_delay_s:  # a quiet generator's lines still show
                with self.sessions() as session:
                    self.flush_into(session)
                    session.commit()
        except Exception:
            self.handleError(record)

    def flush_into(self, session: Session) -> None:
        self._flushed_at = time.monotonic()
        lines, self.pending = self.pending, []
        session.add_all(lines)
