"""Task operations: submit, read, list, cancel, retry, and the public view of a task."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema
from reel_sdk import InvalidInput
from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from reel_host.errors import (
    BadRequest,
    Conflict,
    IdempotencyMismatch,
    InvalidParams,
    NotFound,
    NoWorker,
    ServiceUnavailable,
    UnknownGenerator,
)
from reel_host.queue.celery_app import RUN_TASK, celery_priority, queue_for
from reel_host.records.db import rowcount
from reel_host.records.models import FINISHED, IdempotencyKey, Task, TaskOutput, new_id, utcnow
from reel_host.runtime import Runtime
from reel_host.schemas.tasks import ErrorInfo, OutputPublic, TaskCreate, TaskPublic, TasksPublic
from reel_host.services.catalog import WorkerView, all_generators, local_generators
from reel_host.services.events import TaskEvents

# -- submit ---------------------------------------------------------------------


def validate_params(session: Session, rt: Runtime, view: WorkerView, generator: str, params: dict[str, Any]):
    """Check params against the generator's schema; return them normalised (defaults filled)."""
    gen = rt.registry.get(generator)
    if gen is not None:
        try:
            return gen.parse_params(params).model_dump(mode="json")
        except InvalidInput as exc:
            raise InvalidParams(exc.message, details=exc.details) from None
    info = view.advertised(session, rt).get(generator)
    if info is None:
        known = sorted(all_generators(session, rt, view))
        raise UnknownGenerator(
            f"unknown generator {generator!r}; available: {', '.join(known) or 'none'}",
            details=[{"field": "generator", "message": "unknown generator", "value": generator}],
        )
    errors = sorted(jsonschema.Draft202012Validator(info.params_schema).iter_errors(params), key=str)
    if errors:
        details = [{"field": ".".join(map(str, e.absolute_path)) or "params", "message": e.message} for e in errors]
        raise InvalidParams("; ".join(f"params.{d['field']}: {d['message']}" for d in details), details=details)
    return params


def request_hash(body: TaskCreate) -> str:
    # an absent ``project`` leaves the hash as it was before the field existed
    dumped = body.model_dump(mode="json", exclude={"project"} if body.project is None else None)
    canonical = json.dumps(dumped, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def submit_task(
    session: Session, rt: Runtime, view: WorkerView, project: str, body: TaskCreate, idempotency_key: str | None,
    created_by: str | None = None,
) -> tuple[Task, bool]:
    """Record a new task (or find the one this idempotency key made); return (task, created)."""
    if idempotency_key is not None:
        if not 1 <= len(idempotency_key) <= 255:
            raise BadRequest("Idempotency-Key must be 1 to 255 characters", code="bad_idempotency_key")
        existing = _find_idempotent(session, rt, project, idempotency_key, request_hash(body))
        if existing is not None:
            return existing, False
    params = validate_params(session, rt, view, body.generator, body.params)
    # callbacks (issue 5): refuse SSRF destinations and CMS targets of projects without Payload settings
    from reel_host.callbacks.targets import check_submit

    check_submit(session, rt.settings, project, body)
    if rt.settings.refuse_without_worker and view.carriers(session, rt, body.generator) == 0:
        raise NoWorker(f"no live worker carries generator {body.generator!r}")
    now = utcnow()
    task = Task(
        id=new_id("tsk"),
        project_id=project,
        generator=body.generator,
        params=params,
        priority=body.priority,
        status="queued",
        message="queued",
        attempts=1,
        callback=body.callback.model_dump(mode="json") if body.callback else None,
        cms=body.cms.model_dump(mode="json") if body.cms else None,
        created_by=created_by,
        created_at=now,
        queued_at=now,
        updated_at=now,
    )
    try:
        session.add(task)
        session.flush()  # the task row first: the idempotency row refers to it
        if idempotency_key is not None:
            session.add(IdempotencyKey(project_id=project, key=idempotency_key, request_hash=request_hash(body),
                                       task_id=task.id))
            session.flush()
        TaskEvents(rt).emit(session, task, "queued")
        session.commit()
    except IntegrityError:  # the same key raced us: answer with the winner's task
        session.rollback()
        existing = _find_idempotent(session, rt, project, idempotency_key or "", request_hash(body))
        if existing is None:
            raise
        return existing, False
    dispatch(session, rt, task)
    return task, True


def _find_idempotent(session: Session, rt: Runtime, project: str, key: str, digest: str) -> Task | None:
    row = session.get(IdempotencyKey, (project, key))
    if row is None:
        return None
    if row.created_at < utcnow() - timedelta(seconds=rt.settings.idempotency_ttl_s):
        session.delete(row)
        session.commit()
        return None
    if row.request_hash != digest:
        raise IdempotencyMismatch(
            f"Idempotency-Key {key!r} was already used with a different request body",
            details=[{"field": "Idempotency-Key", "message": "reused with another body"}],
        )
    return session.get(Task, row.task_id)


def dispatch(session: Session, rt: Runtime, task: Task, countdown: float | None = None) -> None:
    """Send the task's current attempt to its generator's queue."""
    try:
        rt.celery.send_task(
            RUN_TASK,
            args=[task.id, task.attempts],
            kwargs={"generator": task.generator},  # the worker picks the generator's time limits by it
            queue=queue_for(task.generator),
            priority=celery_priority(task.priority),
            countdown=countdown,
        )
    except Exception as exc:  # broker down: the record must not claim a queued task nobody will run
        session.execute(
            update(Task)
            .where(Task.id == task.id, Task.attempts == task.attempts, Task.status == "queued")
            .values(status="failed", error_code="broker_unavailable", error_message=str(exc)[:500],
                    finished_at=utcnow(), updated_at=utcnow())
        )
        session.commit()
        raise ServiceUnavailable(f"the task queue is unavailable: {exc}", code="broker_unavailable") from exc


# -- read -------------------------------------------------------------------------


def get_task(session: Session, project: str, task_id: str) -> Task:
    """The project's task; another project's task is not found (404), never forbidden."""
    task = session.get(Task, task_id) if len(task_id) <= 40 else None
    if task is None or task.project_id != project:
        raise NotFound(f"task {task_id!r} not found", code="task_not_found")
    return task


def queue_position(session: Session, task: Task) -> int | None:
    """1 for the next task its queue will run; None once it left the queue."""
    if task.status != "queued":
        return None
    ahead = session.scalar(
        select(func.count()).select_from(Task).where(
            Task.generator == task.generator,
            Task.status == "queued",
            Task.id != task.id,
            or_(
                Task.priority > task.priority,
                and_(Task.priority == task.priority, Task.queued_at < task.queued_at),
            ),
        )
    )
    return int(ahead or 0) + 1


def to_public(session: Session, rt: Runtime, view: WorkerView, task: Task) -> TaskPublic:
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
    ] if task.status == "succeeded" else []
    waiting = task.status == "queued" and view.carriers(session, rt, task.generator) == 0
    message = task.message
    if waiting:
        message = f"waiting for a worker: no live worker carries generator {task.generator!r}"
    return TaskPublic(
        id=task.id,
        project=task.project_id,
        generator=task.generator,
        status=task.status,  # type: ignore[arg-type]
        progress=task.progress,
        message=message,
        attempts=task.attempts,
        priority=task.priority,
        queue_position=queue_position(session, task),
        waiting_for_worker=waiting,
        params=task.params,
        outputs=outputs,
        error=ErrorInfo(code=task.error_code, message=task.error_message or "") if task.error_code else None,
        created_at=task.created_at,
        started_at=task.started_at,
        finished_at=task.finished_at,
    )


def _encode_cursor(task: Task) -> str:
    raw = json.dumps([task.created_at.isoformat(), task.id])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        created, task_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return datetime.fromisoformat(created), str(task_id)
    except Exception:
        raise BadRequest(f"cursor {cursor!r} is not a cursor this API returned", code="bad_cursor",
                         details=[{"field": "cursor", "message": "invalid cursor"}]) from None


def list_tasks(
    session: Session, rt: Runtime, view: WorkerView, project: str, *,
    status: str | None, generator: str | None, limit: int, cursor: str | None, created_by: str | None = None,
) -> TasksPublic:
    """A page of the project's tasks, newest first (only ``created_by``'s when given)."""
    query = select(Task).where(Task.project_id == project)
    if created_by:
        query = query.where(Task.created_by == created_by)
    if status:
        query = query.where(Task.status == status)
    if generator:
        query = query.where(Task.generator == generator)
    if cursor:
        created, task_id = _decode_cursor(cursor)
        if created.tzinfo is None:
            created = created.replace(tzinfo=UTC)
        query = query.where(or_(Task.created_at < created, and_(Task.created_at == created, Task.id < task_id)))
    rows = list(session.scalars(query.order_by(Task.created_at.desc(), Task.id.desc()).limit(limit + 1)))
    page, more = rows[:limit], len(rows) > limit
    return TasksPublic(
        data=[to_public(session, rt, view, t) for t in page],
        next=_encode_cursor(page[-1]) if more and page else None,
    )


# -- cancel and retry ----------------------------------------------------------------


def cancel_task(session: Session, rt: Runtime, project: str, task_id: str) -> Task:
    """Mark a queued or running task cancelled; the record is the truth, a late result is discarded."""
    task = get_task(session, project, task_id)
    now = utcnow()
    done = session.execute(
        update(Task)
        .where(Task.id == task.id, Task.status.in_(("queued", "running")))
        .values(status="cancelled", message="cancelled", finished_at=now, updated_at=now,
                error_code=None, error_message=None)
    )
    session.refresh(task)
    if rowcount(done) == 0:
        session.rollback()
        raise Conflict(f"task {task_id!r} is already {task.status}; only queued or running tasks can be cancelled",
                       code="task_finished")
    TaskEvents(rt).emit(session, task, "cancelled")
    session.commit()
    return task


def retry_task(session: Session, rt: Runtime, project: str, task_id: str) -> Task:
    """Re-queue a failed or cancelled task under the same id, with attempts + 1."""
    task = get_task(session, project, task_id)
    now = utcnow()
    done = session.execute(
        update(Task)
        .where(Task.id == task.id, Task.status.in_(("failed", "cancelled")))
        .values(status="queued", message="queued for retry", attempts=Task.attempts + 1, auto_retries=0,
                lost_runs=0, progress=0.0, error_code=None, error_message=None, started_at=None,
                finished_at=None, worker_id=None, queued_at=now, updated_at=now)
    )
    if rowcount(done) == 0:
        session.rollback()
        raise Conflict(f"task {task_id!r} is {task.status}; only failed or cancelled tasks can be retried",
                       code="task_not_retryable")
    session.execute(delete(TaskOutput).where(TaskOutput.task_id == task.id))
    session.refresh(task)
    TaskEvents(rt).emit(session, task, "queued")
    session.commit()
    dispatch(session, rt, task)
    return task


def is_finished(task: Task) -> bool:
    return task.status in FINISHED


__all__ = [
    "cancel_task", "dispatch", "get_task", "is_finished", "list_tasks", "local_generators",
    "retry_task", "submit_task", "to_public",
]
