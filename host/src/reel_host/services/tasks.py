"""Task operations the API offers: submit, read, list, cancel, retry (state changes go through the lifecycle)."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema
from reel_sdk import InvalidInput
from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from reel_host.errors import (
    BadRequest,
    IdempotencyMismatch,
    InvalidParams,
    NotFound,
    NoWorker,
    ReelError,
    UnknownGenerator,
)
from reel_host.lifecycle import tasks as lifecycle
from reel_host.lifecycle.status import FINISHED
from reel_host.records.models import IdempotencyKey, Task, new_id, utcnow
from reel_host.runtime import Runtime
from reel_host.schemas.tasks import (
    BatchError,
    TaskBatchCreate,
    TaskBatchPublic,
    TaskBatchResult,
    TaskCreate,
    TasksPublic,
)
from reel_host.services.catalog import WorkerView, all_generators, local_generators
from reel_host.services.limits import enforce_submit_limits
from reel_host.services.views import committed_to_public, to_public

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
    prepared = prepare_task(session, rt, view, project, body, idempotency_key, created_by)
    if isinstance(prepared, Task):
        return prepared, False
    try:
        lifecycle.submit(session, rt, *prepared)
    except IntegrityError:  # the same key raced us: answer with the winner's task
        session.rollback()
        existing = _find_idempotent(session, rt, project, idempotency_key or "", request_hash(body))
        if existing is None:
            raise
        return existing, False
    return prepared[0], True


def prepare_task(
    session: Session, rt: Runtime, view: WorkerView, project: str, body: TaskCreate, idempotency_key: str | None,
    created_by: str | None = None,
) -> Task | tuple[Task, IdempotencyKey | None]:
    """Validate a submit: the task its idempotency key already made, or the new (task, key) rows to record."""
    if idempotency_key is not None:
        if not 1 <= len(idempotency_key) <= 255:
            raise BadRequest("Idempotency-Key must be 1 to 255 characters", code="bad_idempotency_key")
        existing = _find_idempotent(session, rt, project, idempotency_key, request_hash(body))
        if existing is not None:
            return existing
    params = validate_params(session, rt, view, body.generator, body.params)
    # callbacks: refuse SSRF destinations and CMS targets of projects without Payload settings
    from reel_host.callbacks.targets import check_submit

    check_submit(session, rt.settings, project, body)
    if rt.settings.refuse_without_worker and view.carriers(session, rt, body.generator) == 0:
        raise NoWorker(f"no live worker carries generator {body.generator!r}")
    enforce_submit_limits(session, rt, project)  # per-project limits: 429 + Retry-After
    task = Task(
        id=new_id("tsk"),
        project_id=project,
        generator=body.generator,
        params=params,
        priority=body.priority,
        callback=body.callback.model_dump(mode="json") if body.callback else None,
        cms=body.cms.model_dump(mode="json") if body.cms else None,
        created_by=created_by,
    )
    idempotency = None
    if idempotency_key is not None:
        idempotency = IdempotencyKey(project_id=project, key=idempotency_key, request_hash=request_hash(body),
                                     task_id=task.id)
    return task, idempotency


def submit_batch(
    session: Session, rt: Runtime, view: WorkerView, project: str, batch: TaskBatchCreate
) -> TaskBatchPublic:
    """Record many tasks in one transaction and send them together; each item gets its task or its error."""
    results: list[TaskBatchResult] = []
    new: list[tuple[int, Task, IdempotencyKey | None]] = []
    seen_keys: set[str] = set()
    for index, item in enumerate(batch.tasks):
        body = TaskCreate(**item.model_dump(exclude={"idempotency_key"}))
        try:
            if item.idempotency_key is not None and item.idempotency_key in seen_keys:
                raise BadRequest(f"idempotency_key {item.idempotency_key!r} appears twice in this batch",
                                 code="duplicate_idempotency_key",
                                 details=[{"field": f"tasks.{index}.idempotency_key", "message": "repeated"}])
            prepared = prepare_task(session, rt, view, project, body, item.idempotency_key)
        except ReelError as exc:
            results.append(TaskBatchResult(index=index, error=BatchError(code=exc.code, message=exc.message,
                                                                         details=exc.details)))
            continue
        if item.idempotency_key is not None:
            seen_keys.add(item.idempotency_key)
        if isinstance(prepared, Task):
            results.append(TaskBatchResult(index=index, task=to_public(session, rt, view, prepared), replayed=True))
        else:
            new.append((index, *prepared))
    if new:
        try:
            lifecycle.submit_many(session, rt, [(task, key) for _, task, key in new])
        except IntegrityError:  # an idempotency key raced another request: record them one by one
            session.rollback()
            for index, _task, key in new:
                item = batch.tasks[index]
                task, created = submit_task(session, rt, view, project,
                                            TaskCreate(**item.model_dump(exclude={"idempotency_key"})),
                                            key.key if key is not None else None)
                results.append(TaskBatchResult(index=index, task=committed_to_public(session, rt, view, task),
                                               replayed=not created))
        else:
            results += [TaskBatchResult(index=index, task=committed_to_public(session, rt, view, task))
                        for index, task, _ in new]
    return TaskBatchPublic(data=sorted(results, key=lambda r: r.index))


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


# -- read -------------------------------------------------------------------------


def get_task(session: Session, project: str, task_id: str, *, with_outputs: bool = False) -> Task:
    """The project's task; another project's task is not found (404), never forbidden.

    ``with_outputs`` loads its outputs in the same statement (a task's answer shows them).
    """
    options = [joinedload(Task.outputs)] if with_outputs else []
    task = session.get(Task, task_id, options=options) if len(task_id) <= 40 else None
    if task is None or task.project_id != project:
        raise NotFound(f"task {task_id!r} not found", code="task_not_found")
    return task


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
    return lifecycle.cancel(session, rt, get_task(session, project, task_id).id)


def retry_task(session: Session, rt: Runtime, project: str, task_id: str) -> Task:
    """Re-queue a failed or cancelled task under the same id, with attempts + 1."""
    return lifecycle.retry(session, rt, get_task(session, project, task_id).id)


def is_finished(task: Task) -> bool:
    return task.status in FINISHED


__all__ = [
    "cancel_task", "get_task", "is_finished", "list_tasks", "local_generators",
    "committed_to_public", "retry_task", "submit_batch", "submit_task", "to_public",
]
