"""The pieces every transition uses: fenced updates, database time, events, the shield."""

from __future__ import annotations

import signal
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, func, insert, inspect, update
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session

from reel_host.lifecycle.status import TaskStatus
from reel_host.observability.metrics import task_event as record_task_metrics
from reel_host.records.models import Base, Task, TaskAttempt, utcnow

if TYPE_CHECKING:
    from reel_host.runtime import Runtime

# the records database is unreachable, restarting or out of connections (retry later)
DB_ERRORS = (OperationalError, InterfaceError, PoolTimeout)

# billiard raises a run's soft time limit as an exception from this signal's handler
_SOFT_LIMIT_SIGNAL = getattr(signal, "SIGUSR1", None)


def now_of(session: Session) -> Any:
    """"Now" as the database server knows it (PostgreSQL), so no worker's clock decides.

    SQLite is the embedded mode: one machine, one clock, and Python's time is that clock.
    """
    if session.get_bind().dialect.name == "postgresql":
        return func.now()
    return utcnow()


def ago(session: Session, seconds: float) -> Any:
    """The database's "now" minus ``seconds``, for liveness cutoffs."""
    if session.get_bind().dialect.name == "postgresql":
        return func.now() - timedelta(seconds=seconds)
    return utcnow() - timedelta(seconds=seconds)


def fenced_update(
    session: Session,
    task_id: str,
    *,
    expect: TaskStatus | Iterable[TaskStatus],
    attempt: int | None = None,
    where: Iterable[ColumnElement[bool]] = (),
    **values: Any,
) -> Task | None:
    """Change the task only if it is still in ``expect`` (and at ``attempt``); return its new row.

    One ``UPDATE … RETURNING`` round trip: the caller gets the row as committed without
    reading it again, or None when the fence did not hold (cancelled, superseded, finished).
    """
    statuses = [expect] if isinstance(expect, TaskStatus) else list(expect)
    conditions: list[ColumnElement[bool]] = [Task.id == task_id, Task.status.in_([str(s) for s in statuses])]
    if attempt is not None:
        conditions.append(Task.attempts == attempt)
    conditions.extend(where)
    values.setdefault("updated_at", now_of(session))
    stmt = update(Task).where(*conditions).values(**values).returning(Task)
    options = {"synchronize_session": False, "populate_existing": True}
    return session.execute(stmt, execution_options=options).scalars().first()


def insert_rows(session: Session, rows: Sequence[Base]) -> None:
    """Insert new rows (attempts, outputs, log lines) with one statement per table.

    The rows are written as plain INSERTs, not added to the session: the ORM's unit of
    work (flush ordering, identity map, primary key fetch) cost a no-op task more CPU
    than all its other writes together, and nothing reads these objects back. They stay
    transient, so a retried transition can insert them again.
    """
    groups: defaultdict[tuple[type[Base], tuple[str, ...]], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        mapper = inspect(type(row))
        values = {attr.key: getattr(row, attr.key) for attr in mapper.column_attrs if attr.key in row.__dict__}
        groups[type(row), tuple(values)].append(values)
    for (model, _keys), values in groups.items():
        session.execute(insert(model), values)


def close_attempt_rows(
    session: Session, task_id: str, status: str, code: str | None, message: str | None,
    *, number: int | None = None, run: int | None = None, worker_id: str | None = None,
) -> None:
    """Close the task's open attempt rows (only one run's, when ``number``/``run``/``worker_id`` say so)."""
    conditions = [TaskAttempt.task_id == task_id, TaskAttempt.finished_at.is_(None)]
    if number is not None:
        conditions.append(TaskAttempt.number == number)
    if run is not None:
        conditions.append(TaskAttempt.run == run)
    if worker_id is not None:
        conditions.append(TaskAttempt.worker_id == worker_id)
    session.execute(
        update(TaskAttempt).where(*conditions)
        .values(status=status, error_code=code, error_message=message, finished_at=now_of(session)),
        execution_options={"synchronize_session": False},
    )


def emit(session: Session, rt: Runtime, task: Task, event: str) -> None:
    """Record the task event in the callbacks outbox and tell the API processes, inside the
    transition's transaction (both happen at commit, or not at all)."""
    from reel_host.callbacks.outbox import record_event
    from reel_host.lifecycle.push import notify

    record_event(session, rt, task, event)
    notify(session, task.id, task.status)
    record_task_metrics(task, event)  # observability: counters and histograms by generator


def wants_progress_events(task: Task) -> bool:
    """Only a task with a CMS document or a callback asking for progress records progress events."""
    return bool(task.cms) or "progress" in ((task.callback or {}).get("events") or ())


@contextmanager
def shielded() -> Iterator[None]:
    """Hold a soft time limit back while a record write runs; it is raised right after.

    A ``SoftTimeLimitExceeded`` raised between two statements of a transaction left a
    connection idle in transaction holding the task's row lock, and the main process's
    time-limit write then waited on it forever. While the shield is up, the limit's signal
    only notes that it fired; the original handler (billiard's, which raises) runs once
    the write is done. (Masking the signal would not do: the kernel hands a process signal
    to any thread that does not block it, and a model's threads do not.)
    """
    if _SOFT_LIMIT_SIGNAL is None or threading.current_thread() is not threading.main_thread():
        yield
        return
    fired: list[int] = []
    previous = signal.signal(_SOFT_LIMIT_SIGNAL, lambda signum, _frame: fired.append(signum))
    try:
        yield
    finally:
        signal.signal(_SOFT_LIMIT_SIGNAL, previous)
        if fired and callable(previous):
            previous(_SOFT_LIMIT_SIGNAL, None)
