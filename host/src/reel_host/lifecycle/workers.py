"""A worker's own row: its heartbeat, its current task, its stop; and who counts as alive.

Liveness is judged by the database server's clock (PostgreSQL ``now()``), both when a
beat is stamped and when it is compared, so a worker whose clock is off by minutes is
neither marked lost nor kept alive by mistake.
"""

from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, and_, bindparam, exists, select, update
from sqlalchemy.orm import Session

from reel_host.lifecycle.fence import ago, now_of, prepared
from reel_host.records.models import TaskAttempt, Worker

if TYPE_CHECKING:
    from reel_host.runtime import Runtime


def is_live(session: Session, rt: Runtime) -> ColumnElement[bool]:
    """SQL: the worker is online and beat within ``REEL_WORKER_LOST_AFTER_S``."""
    return and_(Worker.status == "online", Worker.last_heartbeat >= ago(session, rt.settings.worker_lost_after_s))


def is_lost(session: Session, rt: Runtime) -> ColumnElement[bool]:
    """SQL: the worker stopped beating, or stopped."""
    return (Worker.last_heartbeat < ago(session, rt.settings.worker_lost_after_s)) | (Worker.status == "stopped")


def run_is_live(session: Session, rt: Runtime, task_id: str) -> bool:
    """Is an attempt of this task still open on a live worker (a redelivery is a duplicate)?"""
    open_on_live = exists().where(
        TaskAttempt.task_id == task_id, TaskAttempt.finished_at.is_(None),
        TaskAttempt.worker_id == Worker.id, is_live(session, rt),
    )
    return bool(session.scalar(select(open_on_live)))


def beat(session: Session, worker_id: str, advert: dict[str, Any], ready: bool) -> None:
    """Upsert the worker's row, stamped with the database's time."""
    values = {**advert, "status": "online" if ready else "starting", "last_heartbeat": now_of(session)}
    done = session.execute(update(Worker).where(Worker.id == worker_id).values(**values),
                           execution_options={"synchronize_session": False})
    if done.rowcount == 0:  # type: ignore[attr-defined]
        session.add(Worker(id=worker_id, hostname=socket.gethostname(), pid=os.getpid(),
                           started_at=now_of(session), **values))
    session.commit()


def stopped(session: Session, worker_id: str) -> None:
    session.execute(update(Worker).where(Worker.id == worker_id).values(status="stopped", current_task_id=None))
    session.commit()


def set_current(session: Session, worker_id: str, task_id: str) -> None:
    def build() -> Any:
        t = Worker.__table__
        return update(t).where(t.c.id == bindparam("worker")).values(current_task_id=bindparam("task"))

    session.execute(prepared("worker_set_current", build), {"worker": worker_id, "task": task_id})


def clear_current(session: Session, worker_id: str, task_id: str) -> None:
    def build() -> Any:
        t = Worker.__table__
        return (update(t).where(t.c.id == bindparam("worker"), t.c.current_task_id == bindparam("task"))
                .values(current_task_id=None))

    session.execute(prepared("worker_clear_current", build), {"worker": worker_id, "task": task_id})
