"""Tasks: submit, read, follow (SSE), cancel, retry, logs and attempts."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Header, Query, Request, Response
from sqlalchemy import select
from sse_starlette.sse import EventSourceResponse

from reel_host.api.deps import ProjectDep, RuntimeDep, SessionDep, WorkerViewDep, bearer_token, current_project
from reel_host.schemas.tasks import (
    AttemptPublic,
    ErrorInfo,
    EventsToken,
    TaskCreate,
    TaskLogPublic,
    TaskLogsPublic,
    TaskPublic,
)
from reel_host.errors import NotFound, Unauthorized
from reel_host.paths import API_PREFIX
from reel_host.records.models import FINISHED, TaskAttempt, TaskLog
from reel_host.services import tasks as service

router = APIRouter(prefix="/tasks", tags=["tasks"])


@router.post("/submit", status_code=202, response_model=TaskPublic)
def submit_task(
    body: TaskCreate, response: Response, rt: RuntimeDep, session: SessionDep, view: WorkerViewDep,
    project: ProjectDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> TaskPublic:
    """Queue a generation task; answers at once (202) without waiting for a worker."""
    task, created = service.submit_task(session, rt, view, project, body, idempotency_key)
    if not created:
        response.headers["Idempotent-Replayed"] = "true"
    return service.to_public(session, rt, view, task)


@router.get("/{task_id}/status", response_model=TaskPublic)
def read_task(task_id: str, rt: RuntimeDep, session: SessionDep, view: WorkerViewDep, project: ProjectDep):
    return service.to_public(session, rt, view, service.get_task(session, project, task_id))


@router.delete("/{task_id}/cancel", response_model=TaskPublic)
def cancel_task(task_id: str, rt: RuntimeDep, session: SessionDep, view: WorkerViewDep, project: ProjectDep):
    """Cancel a queued or running task (409 once it finished)."""
    return service.to_public(session, rt, view, service.cancel_task(session, rt, project, task_id))


@router.post("/{task_id}/retry", response_model=TaskPublic, status_code=202)
def retry_task(task_id: str, rt: RuntimeDep, session: SessionDep, view: WorkerViewDep, project: ProjectDep):
    """Run a failed or cancelled task again under the same id (attempts + 1)."""
    return service.to_public(session, rt, view, service.retry_task(session, rt, project, task_id))


@router.get("/{task_id}/logs", response_model=TaskLogsPublic)
def read_task_logs(task_id: str, session: SessionDep, project: ProjectDep,
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
def list_task_attempts(task_id: str, session: SessionDep, project: ProjectDep) -> list[AttemptPublic]:
    """Every run of the task: worker, outcome and times."""
    task = service.get_task(session, project, task_id)
    rows = session.scalars(select(TaskAttempt).where(TaskAttempt.task_id == task.id).order_by(TaskAttempt.id))
    return [AttemptPublic(number=r.number, worker=r.worker_id, status=r.status, started_at=r.started_at,
                          finished_at=r.finished_at,
                          error=ErrorInfo(code=r.error_code, message=r.error_message or "") if r.error_code else None)
            for r in rows]


@router.post("/{task_id}/events/token", response_model=EventsToken)
def create_events_token(task_id: str, rt: RuntimeDep, session: SessionDep, project: ProjectDep) -> EventsToken:
    """A short-lived token for ``/events?token=`` (browsers' EventSource cannot send headers)."""
    task = service.get_task(session, project, task_id)
    token, expires = rt.signer.sign_events(task.id, project, rt.settings.sse_token_ttl_s)
    url = f"{rt.settings.public_url.rstrip('/')}{API_PREFIX}/tasks/{task.id}/events?token={token}"
    return EventsToken(token=token, url=url, expires_at=expires)


def _events_project(
    request: Request, task_id: str, rt: RuntimeDep, session: SessionDep,
    token: Annotated[str | None, Query(description="signed token from /events/token")] = None,
    bearer: Annotated[str | None, Depends(bearer_token)] = None,
) -> str:
    if token:
        payload = rt.signer.read_events(token)
        if payload is None or payload.get("task") != task_id:
            raise Unauthorized("events token is invalid or expired")
        return str(payload["p"])
    return current_project(request, session, bearer)


@router.get("/{task_id}/events", response_class=EventSourceResponse,
            responses={200: {"content": {"text/event-stream": {}}, "description": "task events"}})
def stream_task_events(
    task_id: str, request: Request, rt: RuntimeDep, view: WorkerViewDep,
    project: Annotated[str, Depends(_events_project)],
) -> EventSourceResponse:
    """Server-Sent Events: ``task`` (the task resource on each change) and ``log`` lines, until it ends."""
    with rt.sessions() as session:
        service.get_task(session, project, task_id)  # 404 before the stream starts

    def snapshot(last_log: int) -> tuple[dict[str, Any], list[TaskLog]]:
        with rt.sessions() as session:
            task = service.get_task(session, project, task_id)
            public = service.to_public(session, rt, view, task).model_dump(mode="json")
            logs = list(session.scalars(select(TaskLog).where(TaskLog.task_id == task_id, TaskLog.id > last_log)
                                        .order_by(TaskLog.id).limit(500)))
            return public, logs

    async def events() -> AsyncIterator[dict[str, str]]:
        last_state: tuple | None = None
        last_log = 0
        while True:
            try:
                public, logs = await anyio.to_thread.run_sync(snapshot, last_log)
            except NotFound:
                return
            for line in logs:
                last_log = line.id
                yield {"event": "log", "data": json.dumps({"attempt": line.attempt, "level": line.level,
                                                           "message": line.message})}
            state = (public["status"], public["progress"], public["message"], public["attempts"],
                     public["queue_position"], public["waiting_for_worker"])
            if state != last_state:
                last_state = state
                yield {"event": "task", "id": f"{public['attempts']}-{public['status']}-{public['progress']}",
                       "data": json.dumps(public)}
            if public["status"] in FINISHED:
                return
            if await request.is_disconnected():
                return
            await anyio.sleep(rt.settings.events_poll_s)

    return EventSourceResponse(events(), ping=15)
