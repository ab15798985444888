"""Tasks: submit, read, follow (SSE), cancel, retry, logs and attempts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from sqlalchemy import select
from sse_starlette.sse import EventSourceResponse

from reel_host.api import events_stream
from reel_host.api.access import PrincipalDep, TaskProjectDep
from reel_host.api.deps import RuntimeDep, SessionDep, WorkerViewDep
from reel_host.schemas.tasks import (
    AttemptPublic,
    ErrorInfo,
    EventsToken,
    TaskCreate,
    TaskLogPublic,
    TaskLogsPublic,
    TaskPublic,
)
from reel_host.records.models import TaskAttempt, TaskLog
from reel_host.services import tasks as service

router = APIRouter(prefix="/tasks", tags=["tasks"])


@router.post("/submit", status_code=202, response_model=TaskPublic)
def submit_task(
    body: TaskCreate, response: Response, rt: RuntimeDep, session: SessionDep, view: WorkerViewDep,
    who: PrincipalDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> TaskPublic:
    """Queue a generation task; answers at once (202) without waiting for a worker."""
    project = who.submit_project(body.project)
    task, created = service.submit_task(session, rt, view, project, body, idempotency_key, created_by=who.user_id)
    if not created:
        response.headers["Idempotent-Replayed"] = "true"
    return service.to_public(session, rt, view, task)


@router.get("/{task_id}/status", response_model=TaskPublic)
def read_task(task_id: str, rt: RuntimeDep, session: SessionDep, view: WorkerViewDep, project: TaskProjectDep):
    return service.to_public(session, rt, view, service.get_task(session, project, task_id))


@router.delete("/{task_id}/cancel", response_model=TaskPublic)
def cancel_task(task_id: str, rt: RuntimeDep, session: SessionDep, view: WorkerViewDep, project: TaskProjectDep):
    """Cancel a queued or running task (409 once it finished)."""
    return service.to_public(session, rt, view, service.cancel_task(session, rt, project, task_id))


@router.post("/{task_id}/retry", response_model=TaskPublic, status_code=202)
def retry_task(task_id: str, rt: RuntimeDep, session: SessionDep, view: WorkerViewDep, project: TaskProjectDep):
    """Run a failed or cancelled task again under the same id (attempts + 1)."""
    return service.to_public(session, rt, view, service.retry_task(session, rt, project, task_id))


@router.get("/{task_id}/logs", response_model=TaskLogsPublic)
def read_task_logs(task_id: str, session: SessionDep, project: TaskProjectDep,
                   attempt: int | None = Query(None, ge=1, description="only this attempt")) -> TaskLogsPublic:
    """What the generator logged (``ctx.log``) while it ran."""
    task = service.get_task(session, project, task_id)
    query = select(TaskLog).where(TaskLog.task_id == task.id).order_by(TaskLog.id)
    if attempt is not None:
        query = query.where(TaskLog.attempt == attempt)
    rows = session.scalars(query.limit(5000))
    return TaskLogsPublic(data=[TaskLogPublic(created_at=r.created_at, attempt=r.attempt, level=r.level,
                                              message=r.message) for r in rows])


@router.get("/{task_id}/attempts", response_model=list[AttemptPublic])
def list_task_attempts(task_id: str, session: SessionDep, project: TaskProjectDep) -> list[AttemptPublic]:
    """Every run of the task: worker, outcome and times."""
    task = service.get_task(session, project, task_id)
    rows = session.scalars(select(TaskAttempt).where(TaskAttempt.task_id == task.id).order_by(TaskAttempt.id))
    return [AttemptPublic(number=r.number, worker=r.worker_id, status=r.status, started_at=r.started_at,
                          finished_at=r.finished_at,
                          error=ErrorInfo(code=r.error_code, message=r.error_message or "") if r.error_code else None)
            for r in rows]


@router.post("/{task_id}/events/token", response_model=EventsToken)
def create_events_token(task_id: str, rt: RuntimeDep, session: SessionDep, project: TaskProjectDep) -> EventsToken:
    """A short-lived token for ``/events?token=`` (browsers' EventSource cannot send headers)."""
    task = service.get_task(session, project, task_id)
    token, expires = rt.signer.sign_events(task.id, project, rt.settings.sse_token_ttl_s)
    url = f"{rt.settings.public_url.rstrip('/')}/api/v1/tasks/{task.id}/events?token={token}"
    return EventsToken(token=token, url=url, expires_at=expires)


@router.get("/{task_id}/events", response_class=EventSourceResponse,
            responses={200: {"content": {"text/event-stream": {}}, "description": "task events"}})
def stream_task_events(
    task_id: str, request: Request, rt: RuntimeDep, view: WorkerViewDep,
    project: Annotated[str, Depends(events_stream.events_project)],
) -> EventSourceResponse:
    """Server-Sent Events: ``task`` (the task resource on each change) and ``log`` lines, until it ends.

    Every event has an id; a client that reconnects with ``Last-Event-ID`` gets what it missed, once.
    """
    return events_stream.task_event_stream(request, rt, view, project, task_id)
