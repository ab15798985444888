"""The pieces every transition uses: fenced updates, database time, events, the shield."""

from __future__ import annotations

import signal
import threading
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import ClauseElement, ColumnElement, bindparam, func, insert, inspect, update
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement

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


S = TypeVar("S")
_PREPARED: dict[Hashable, Any] = {}  # statements of the hot path, by shape (see prepared)


def prepared(key: Hashable, build: Callable[[], S]) -> S:
    """The statement of ``key``, built once per process.

    Building a SQLAlchemy statement (clauses, values, its cache key) cost more CPU than
    executing it: a no-op task's writes, rebuilt on every call, spent a third of the
    worker's time there. The hot path's statements take their values as bound parameters.
    """
    stmt = _PREPARED.get(key)
    if stmt is None:
        stmt = _PREPARED[key] = build()
    return stmt  # type: ignore[no-any-return]


def _is_db_now(value: Any) -> bool:
    return isinstance(value, FunctionElement) and value.name == "now"


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
    statuses = tuple(str(s) for s in ([expect] if isinstance(expect, TaskStatus) else expect))
    values.setdefault("updated_at", now_of(session))
    options = {"synchronize_session": False, "populate_existing": True}
    extra = list(where)
    if extra or any(isinstance(v, ClauseElement) and not _is_db_now(v) for v in values.values()):
        # a rare shape (an extra condition, a computed value such as attempts + 1): built for this call
        conditions = [Task.id == task_id, Task.status.in_(statuses), *extra]
        if attempt is not None:
            conditions.append(Task.attempts == attempt)
        stmt = update(Task).where(*conditions).values(**values).returning(Task)
        return session.execute(stmt, execution_options=options).scalars().first()
    shape = ("fence", statuses, attempt is not None, tuple((k, _is_db_now(v)) for k, v in values.items()))
    stmt = prepared(shape, lambda: _fence_statement(statuses, attempt is not None, shape[3]))
    params = {f"set_{k}": v for k, v in values.items() if not _is_db_now(v)}
    params["fence_id"] = task_id
    if attempt is not None:
        params["fence_attempt"] = attempt
    return session.execute(stmt, params, execution_options=options).scalars().first()


def _fence_statement(statuses: tuple[str, ...], with_attempt: bool, keys: tuple[tuple[str, bool], ...]) -> Any:
    columns = inspect(Task).columns
    conditions = [Task.id == bindparam("fence_id"), Task.status.in_(statuses)]
    if with_attempt:
        conditions.append(Task.attempts == bindparam("fence_attempt"))
    values = {k: func.now() if now else bindparam(f"set_{k}", type_=columns[k].type) for k, now in keys}
    return update(Task).where(*conditions).values(values).returning(Task)


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
        values = {attr.columns[0].key: getattr(row, attr.key) for attr in mapper.column_attrs
                  if attr.key in row.__dict__}
        groups[type(row), tuple(values)].append(values)
    for (model, _keys), values in groups.items():
        table = model.__table__
        session.execute(prepared(("insert", table.name), lambda t=table: insert(t)), values)


def close_attempt_rows(
    session: Session, task_id: str, status: str, code: str | None, message: str | None,
    *, number: int | None = None, run: int | None = None, worker_id: str | None = None,
) -> None:
    """Close the task's open attempt rows (only one run's, when ``number``/``run``/``worker_id`` say so)."""
    only = {"number": number, "run": run, "worker_id": worker_id}
    only = {k: v for k, v in only.items() if v is not None}
    finished = now_of(session)
    db_now = _is_db_now(finished)

    def build() -> Any:
        t = TaskAttempt.__table__
        conditions = [t.c.task_id == bindparam("of_task"), t.c.finished_at.is_(None),
                      *(t.c[k] == bindparam(f"only_{k}") for k in only)]
        return update(t).where(*conditions).values(
            status=bindparam("set_status"), error_code=bindparam("set_code"), error_message=bindparam("set_message"),
            finished_at=func.now() if db_now else bindparam("finished", type_=t.c.finished_at.type))

    stmt = prepared(("close_attempts", tuple(only), db_now), build)
    params = {"of_task": task_id, "set_status": str(status), "set_code": code, "set_message": message,
              **{f"only_{k}": v for k, v in only.items()}}
    if not db_now:
        params["finished"] = finished
    session.execute(stmt, params)


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
