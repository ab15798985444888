"""A run's transitions, called by the task runner in a worker: claim, progress, and the end.

Each opens its own short session behind :func:`shielded` (a soft time limit never lands
inside a record write) and is fenced by (task, attempt, running), so a run that was
cancelled or superseded meanwhile changes nothing; its caller learns so from the result.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from sqlalchemy.orm import Session

from reel_host.lifecycle import workers
from reel_host.lifecycle.fence import (
    DB_ERRORS,
    close_attempt_rows,
    emit,
    fenced_update,
    insert_rows,
    now_of,
    shielded,
    wants_progress_events,
)
from reel_host.lifecycle.lost import GAVE_UP_CODE, LOST_CODE, gave_up_message
from reel_host.lifecycle.push import notify
from reel_host.lifecycle.status import AttemptStatus, TaskStatus
from reel_host.records.models import Task, TaskAttempt, TaskLog, TaskOutput, utcnow

if TYPE_CHECKING:
    from reel_host.runtime import Runtime

log = logging.getLogger("reel.lifecycle")
P = ParamSpec("P")
R = TypeVar("R")


@dataclass
class Claim:
    """A run this worker owns: the task as claimed, its attempt and its run number."""

    task: Task
    attempt: int
    run: int
    worker_id: str


def persistent(fn: Callable[P, R]) -> Callable[P, R]:
    """Retry a run's outcome write while the database is away, for up to ``REEL_RECORD_RETRY_S``.

    A result that cannot be recorded is not dropped: the worker keeps it and tries again
    (a restart or failover of PostgreSQL takes seconds), then gives up loudly.
    """
    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        rt: Runtime = args[0]  # type: ignore[assignment]
        deadline = time.monotonic() + rt.settings.record_retry_s
        delay = 0.2
        while True:
            try:
                return fn(*args, **kwargs)
            except DB_ERRORS as exc:
                if time.monotonic() + delay > deadline:
                    raise
                log.warning("%s: database unavailable (%s); retrying in %.1fs", fn.__name__, type(exc).__name__, delay)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)

    return wrapper


@contextmanager
def _write(rt: Runtime) -> Iterator[Session]:
    with shielded(), rt.sessions() as session:
        yield session


def claim(rt: Runtime, task_id: str, attempt: int, worker_id: str) -> Claim | None:
    """queued → running for this worker; None when the message is stale or a duplicate."""
    with _write(rt) as session:
        values = dict(status=TaskStatus.RUNNING, started_at=now_of(session), worker_id=worker_id,
                      message="running", progress=0.0)
        task = fenced_update(session, task_id, expect=TaskStatus.QUEUED, attempt=attempt, **values)
        run = task.lost_runs if task is not None else 0
        if task is None:
            current = session.get(Task, task_id)
            if current is None or current.attempts != attempt or current.status != TaskStatus.RUNNING:
                log.info("dropping %s attempt %s: superseded, finished or unknown", task_id, attempt)
                return None
            # Redelivered while the record says running: a duplicate if a live worker still
            # runs it; otherwise the run's worker died before anyone noticed.
            if workers.run_is_live(session, rt, task_id):
                log.warning("dropping duplicate delivery of %s: a live worker runs it", task_id)
                return None
            run = current.lost_runs + 1
            limit = rt.settings.worker_lost_max
            close_attempt_rows(session, task_id, AttemptStatus.LOST, LOST_CODE, "the worker running it was lost")
            if run > limit:
                failed = fenced_update(session, task_id, expect=TaskStatus.RUNNING, attempt=attempt,
                                       status=TaskStatus.FAILED, error_code=GAVE_UP_CODE, message="failed",
                                       error_message=gave_up_message(run, limit, "its worker died"),
                                       finished_at=now_of(session), lost_runs=run)
                if failed is not None:
                    emit(session, rt, failed, "failed")
                session.commit()
                return None
            task = fenced_update(session, task_id, expect=TaskStatus.RUNNING, attempt=attempt,
                                 lost_runs=run, **values)
            if task is None:
                session.rollback()
                return None
        insert_rows(session, [TaskAttempt(task_id=task_id, number=attempt, run=run, worker_id=worker_id,
                                          started_at=utcnow())])
        workers.set_current(session, worker_id, task_id)
        emit(session, rt, task, "started")
        session.commit()
        return Claim(task, attempt, run, worker_id)


def report_progress(rt: Runtime, claim: Claim, fraction: float, message: str | None,
                    logs: Sequence[TaskLog] = ()) -> bool:
    """Record progress (and buffered log lines); False when the run no longer owns the task."""
    with _write(rt) as session:
        row = fenced_update(session, claim.task.id, expect=TaskStatus.RUNNING, attempt=claim.attempt,
                            progress=fraction, message=message)
        if row is None:
            session.rollback()
            return False
        insert_rows(session, logs)
        if wants_progress_events(row):
            emit(session, rt, row, "progress")
        else:
            notify(session, row.id, row.status)  # SSE streams and waiters still hear of it
        session.commit()
        return True


def add_logs(rt: Runtime, logs: Sequence[TaskLog]) -> None:
    """Write log lines of a run on their own (a quiet generator's lines still show)."""
    with _write(rt) as session:
        insert_rows(session, logs)
        session.commit()


@persistent
def finish(rt: Runtime, claim: Claim, status: TaskStatus, code: str | None = None, message: str | None = None,
           outputs: Sequence[TaskOutput] = (), logs: Sequence[TaskLog] = ()) -> bool:
    """running → succeeded | failed, with outputs, log lines, the attempt row and the worker's
    current task in one transaction; False when the run no longer owns the task."""
    with _write(rt) as session:
        values = dict(status=status, error_code=code, error_message=message, finished_at=now_of(session),
                      message="done" if status == TaskStatus.SUCCEEDED else "failed")
        if status == TaskStatus.SUCCEEDED:
            values["progress"] = 1.0
        row = fenced_update(session, claim.task.id, expect=TaskStatus.RUNNING, attempt=claim.attempt, **values)
        if row is None:
            session.rollback()
            _close_own_row(rt, claim, logs)
            return False
        insert_rows(session, [*outputs, *logs])
        close_attempt_rows(session, claim.task.id, str(status), code, message, number=claim.attempt, run=claim.run)
        workers.clear_current(session, claim.worker_id, claim.task.id)
        emit(session, rt, row, str(status))
        session.commit()
        return True


@persistent
def retry_later(rt: Runtime, claim: Claim, code: str, message: str, logs: Sequence[TaskLog] = ()) -> str:
    """running → queued as attempt + 1, due after the backoff; or failed past the retry limit.

    The due time is a column: the dispatcher sends the new attempt when it is due, so no
    worker holds a delayed message in memory (and loses it when it dies).
    """
    s = rt.settings
    tries = claim.task.auto_retries
    if tries >= s.transient_retries:
        done = finish(rt, claim, TaskStatus.FAILED, code, f"{message} (gave up after {tries + 1} tries)", logs=logs)
        return "failed" if done else "cancelled"
    delay = min(s.retry_backoff_s * 2 ** tries, s.retry_backoff_max_s)
    with _write(rt) as session:
        row = fenced_update(
            session, claim.task.id, expect=TaskStatus.RUNNING, attempt=claim.attempt,
            status=TaskStatus.QUEUED, attempts=claim.attempt + 1, auto_retries=tries + 1, worker_id=None,
            message=f"retrying in {delay:g}s after {code}: {message}"[:1000],
            queued_at=utcnow(), due_at=utcnow() + timedelta(seconds=delay), dispatched_at=None,
        )
        if row is None:
            session.rollback()
            _close_own_row(rt, claim, logs)
            return "cancelled"
        insert_rows(session, logs)
        close_attempt_rows(session, claim.task.id, AttemptStatus.RETRYING, code, message,
                           number=claim.attempt, run=claim.run)
        workers.clear_current(session, claim.worker_id, claim.task.id)
        emit(session, rt, row, "queued")
        session.commit()
    return "retrying"


@persistent
def end_cancelled(rt: Runtime, claim: Claim, logs: Sequence[TaskLog] = ()) -> None:
    """The run stopped because the task was cancelled or the run superseded: close its own row."""
    _close_own_row(rt, claim, logs)


def _close_own_row(rt: Runtime, claim: Claim, logs: Sequence[TaskLog]) -> None:
    # only this run's row: a superseded run must not close the row of the run that replaced it
    with _write(rt) as session:
        current = session.get(Task, claim.task.id)
        why = ("task was cancelled" if current is None or current.status == TaskStatus.CANCELLED
               else "run was superseded")
        close_attempt_rows(session, claim.task.id, AttemptStatus.CANCELLED, "cancelled", why,
                           number=claim.attempt, run=claim.run)
        insert_rows(session, logs)
        workers.clear_current(session, claim.worker_id, claim.task.id)
        session.commit()


def is_current(rt: Runtime, claim: Claim) -> bool:
    """Does the record still say this run owns the task (the cancellation poll)?"""
    from sqlalchemy import select

    with rt.sessions() as session:
        row = session.execute(select(Task.status, Task.attempts).where(Task.id == claim.task.id)).first()
    return row is not None and row.status == TaskStatus.RUNNING and row.attempts == claim.attempt
