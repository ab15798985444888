"""The API's transitions: submit, cancel and retry."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from reel_host.errors import Conflict
from reel_host.lifecycle.dispatch import publish_after_commit
from reel_host.lifecycle.fence import emit, fenced_update
from reel_host.lifecycle.status import TaskStatus
from reel_host.records.models import IdempotencyKey, Task, TaskOutput, utcnow

if TYPE_CHECKING:
    from reel_host.runtime import Runtime

log = logging.getLogger("reel.lifecycle")


def submit(session: Session, rt: Runtime, task: Task, idempotency: IdempotencyKey | None = None) -> Task:
    """Record a new task as queued, with its idempotency key and event; send it once committed.

    Raises ``IntegrityError`` when the idempotency key raced another submit (nothing is sent).
    """
    submit_many(session, rt, [(task, idempotency)])
    return task


def submit_many(session: Session, rt: Runtime, items: list[tuple[Task, IdempotencyKey | None]]) -> None:
    """Record several new tasks in one transaction (a batch submit); send them once committed."""
    now = utcnow()
    for task, _ in items:
        task.status, task.message, task.attempts = TaskStatus.QUEUED, "queued", 1
        task.created_at = task.queued_at = task.updated_at = task.due_at = task.dispatched_at = now
    session.add_all([task for task, _ in items])
    session.flush()  # the task rows first: the idempotency rows refer to them
    keys = [key for _, key in items if key is not None]
    if keys:
        session.add_all(keys)
        session.flush()
    for task, _ in items:
        emit(session, rt, task, "queued")
        publish_after_commit(session, rt, task)
    session.commit()


def cancel(session: Session, rt: Runtime, task_id: str) -> Task:
    """queued | running → cancelled; the record is the truth and a late result is discarded."""
    row = fenced_update(session, task_id, expect=(TaskStatus.QUEUED, TaskStatus.RUNNING),
                        status=TaskStatus.CANCELLED, message="cancelled", finished_at=utcnow(),
                        error_code=None, error_message=None)
    if row is None:
        session.rollback()
        raise Conflict(f"task {task_id!r} is already {_status_of(session, task_id)}; "
                       "only queued or running tasks can be cancelled", code="task_finished")
    emit(session, rt, row, "cancelled")
    session.commit()
    return row


def retry(session: Session, rt: Runtime, task_id: str) -> Task:
    """failed | cancelled → queued under the same id, attempts + 1; the old outputs go."""
    now = utcnow()
    row = fenced_update(
        session, task_id, expect=(TaskStatus.FAILED, TaskStatus.CANCELLED),
        status=TaskStatus.QUEUED, message="queued for retry", attempts=Task.attempts + 1, auto_retries=0,
        lost_runs=0, progress=0.0, error_code=None, error_message=None, started_at=None, finished_at=None,
        worker_id=None, queued_at=now, due_at=now, dispatched_at=now,
    )
    if row is None:
        session.rollback()
        raise Conflict(f"task {task_id!r} is {_status_of(session, task_id)}; "
                       "only failed or cancelled tasks can be retried", code="task_not_retryable")
    old_keys = list(session.scalars(select(TaskOutput.storage_key).where(TaskOutput.task_id == task_id)))
    session.execute(delete(TaskOutput).where(TaskOutput.task_id == task_id))
    session.expire(row, ["outputs"])
    emit(session, rt, row, "queued")
    publish_after_commit(session, rt, row)
    session.commit()
    for key in old_keys:  # each attempt stores under its own keys: no newer attempt's file is touched
        try:
            rt.storage.delete(key)
        except Exception:
            log.warning("could not delete %s of a retried task's earlier attempt", key)
    return row


def _status_of(session: Session, task_id: str) -> str:
    row = session.get(Task, task_id, populate_existing=True)
    return row.status if row is not None else "gone"
