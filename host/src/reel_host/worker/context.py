"""The RunContext a worker hands to generators: progress and logs go to the records."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from reel_sdk import RunContext
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

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
        self._last_write = 0.0
        self._last_poll = 0.0
        self.events = TaskEvents(rt)
        self._handler = TaskLogHandler(self._sessions, task.id, attempt)
        logger.addHandler(self._handler)

    def close(self) -> None:
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
            if done.rowcount == 0:
                session.commit()
                self.cancel()  # cancelled, or this run was superseded: stop
                return
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
    """Keeps what a generator logs with its task (readable at /tasks/{id}/logs)."""

    def __init__(self, sessions: sessionmaker[Session], task_id: str, attempt: int) -> None:
        super().__init__(logging.DEBUG)
        self.sessions, self.task_id, self.attempt = sessions, task_id, attempt
        self.setFormatter(logging.Formatter("%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            with self.sessions() as session:
                session.add(TaskLog(task_id=self.task_id, attempt=self.attempt, level=record.levelname,
                                    message=self.format(record)[:10000]))
                session.commit()
        except Exception:
            self.handleError(record)
