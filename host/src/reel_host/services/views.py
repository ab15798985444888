"""The public view of a task (what status, listings, events and callbacks show)."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from reel_host.lifecycle.fence import DB_ERRORS
from reel_host.lifecycle.status import TaskStatus
from reel_host.records.models import Task
from reel_host.runtime import Runtime
from reel_host.schemas.tasks import ErrorInfo, OutputPublic, TaskPublic
from reel_host.services.catalog import WorkerView
from reel_host.services.limits import held_message

log = logging.getLogger("reel.api")


def queue_position(session: Session, view: WorkerView, task: Task) -> int | None:
    """1 for the next task its queue will run; None once it left the queue (a cached estimate)."""
    if task.status != TaskStatus.QUEUED:
        return None
    return view.positions.position(session, task.generator, task.priority, task.queued_at)


def to_public(session: Session, rt: Runtime, view: WorkerView, task: Task, *, decorate: bool = True) -> TaskPublic:
    """The task as clients see it. ``decorate=False`` leaves out what needs more reads (queue
    position, waiting for a worker, held by a limit): the answer from the row alone."""
    ttl = rt.settings.signed_url_ttl_s
    outputs = [
        OutputPublic(
            name=o.name,
            url=rt.storage.url(o.storage_key, media_type=o.media_type, filename=o.name, ttl_s=ttl),
            media_type=o.media_type,
            bytes=o.bytes,
            metadata=o.meta or {},
        )
        for o in task.outputs
    ] if task.status == TaskStatus.SUCCEEDED else []
    waiting = decorate and task.status == TaskStatus.QUEUED and view.carriers(session, rt, task.generator) == 0
    message = task.message
    if waiting:
        message = f"waiting for a worker: no live worker carries generator {task.generator!r}"
    if decorate:
        message = held_message(session, task) or message  # project limits: held by max_running
    return TaskPublic(
        id=task.id,
        project=task.project_id,
        generator=task.generator,
        status=task.status,  # type: ignore[arg-type]
        progress=task.progress,
        message=message,
        attempts=task.attempts,
        priority=task.priority,
        queue_position=queue_position(session, view, task) if decorate else None,
        waiting_for_worker=waiting,
        params=task.params,
        outputs=outputs,
        error=ErrorInfo(code=task.error_code, message=task.error_message or "") if task.error_code else None,
        created_at=task.created_at,
        started_at=task.started_at,
        finished_at=task.finished_at,
    )


def committed_to_public(session: Session, rt: Runtime, view: WorkerView, task: Task) -> TaskPublic:
    """The answer to a write that has committed: if the database goes away before the answer is
    dressed, the row as written, not a 503 (which would invite the client to submit again)."""
    try:
        return to_public(session, rt, view, task)
    except DB_ERRORS as exc:
        log.warning("task %s: answered without its queue details, the database is unavailable (%s)",
                    task.id, type(exc).__name__)
        return to_public(session, rt, view, task, decorate=False)
