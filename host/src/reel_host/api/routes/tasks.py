"""Tasks: submit, read, follow (SSE), cancel, retry, logs and attempts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import anyio
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from sse_starlette.sse import EventSourceResponse

from reel_host.api import events_stream
from reel_host.api.access import AccessCallDep, TaskCallDep
from reel_host.api.calls import ApiCall, ApiCallDep, as_json, prefer_wait
from reel_host.errors import InvalidRequest, Unauthorized
from reel_host.paths import API_PREFIX
from reel_host.records.models import TaskAttempt, TaskLog
from reel_host.runtime import Runtime
from reel_host.schemas.tasks import (
    AttemptPublic,
    ErrorInfo,
    EventsToken,
    TaskBatchCreate,
    TaskBatchPublic,
    TaskCreate,
    TaskLogPublic,
    TaskLogsPublic,
    TaskPublic,
)
from reel_host.services import tasks as service

router = APIRouter(prefix="/tasks", tags=["tasks"])


PREFER_DOC = ("RFC 7240 `wait=N`: answer once the task is finished or after N seconds (capped by "
              "REEL_MAX_WAIT_S), without polling; the answer carries `Preference-Applied`.")


@router.post("/submit", status_code=202, response_model=TaskPublic)
async def submit_task(
    body: TaskCreate, call: AccessCallDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
    prefer: Annotated[str | None, Header(description=PREFER_DOC)] = None,
) -> Response:
    """Queue a generation task; answers at once (202) without waiting for a worker, unless `Prefer: wait=N`."""
    rt, view = call.rt, call.view
    created_flag: list[bool] = []

    call.requested_project = body.project  # a key's own project, or one of a login's projects

    def work(session: Session, project: str) -> TaskPublic:
        task, created = service.submit_task(session, rt, view, project, body, idempotency_key,
                                            created_by=call.principal(session).user_id)
        created_flag.append(created)
        return service.committed_to_public(session, rt, view, task)

    task = await call.run_model(work)
    headers = {} if created_flag[0] else {"Idempotent-Replayed": "true"}
    return await _answer(call, task, prefer, 202, headers)


@router.post("/submit_batch", response_model=TaskBatchPublic)
async def submit_task_batch(body: TaskBatchCreate, call: ApiCallDep) -> Response:
    """Queue many tasks in one request, one commit and one round of publishing (CMS imports, bursts).

    Each item is answered in order with its task (or, with `replayed`, the one its
    `idempotency_key` already made) or its own error; one bad item fails alone.
    """
    if len(body.tasks) > call.rt.settings.max_batch:
        raise InvalidRequest(f"a batch holds at most {call.rt.settings.max_batch} tasks (REEL_MAX_BATCH), "
                             f"got {len(body.tasks)}", details=[{"field": "tasks", "message": "too many tasks"}])
    rt, view = call.rt, call.view
    return await call.run(lambda session, project: service.submit_batch(session, rt, view, project, body))


@router.get("/{task_id}/status", response_model=TaskPublic)
async def read_task(
    task_id: str, call: TaskCallDep, prefer: Annotated[str | None, Header(description=PREFER_DOC)] = None,
) -> Response:
    """The task; with `Prefer: wait=N`, once it is finished or after N seconds."""
    rt, view = call.rt, call.view
    task = await call.run_model(lambda session, project: service.to_public(
        session, rt, view, service.get_task(session, project, task_id, with_outputs=True)))
    return await _answer(call, task, prefer, 200, {})


async def _answer(call: ApiCall, task: TaskPublic, prefer: str | None, status_code: int,
                  headers: dict[str, str]) -> Response:
    wait = prefer_wait(prefer, call.rt.settings.max_wait_s)
    if wait is not None:
        rt, view, task_id = call.rt, call.view, task.id
        task = await call.wait_until_finished(task, wait, lambda session, project: service.to_public(
            session, rt, view, service.get_task(session, project, task_id, with_outputs=True)))
        headers["Preference-Applied"] = f"wait={wait:g}"
    return as_json(task, status_code, headers)


@router.delete("/{task_id}/cancel", response_model=TaskPublic)
async def cancel_task(task_id: str, call: TaskCallDep) -> Response:
    """Cancel a queued or running task (409 once it finished)."""
    rt, view = call.rt, call.view
    return await call.run(lambda session, project: service.committed_to_public(
        session, rt, view, service.cancel_task(session, rt, project, task_id)))


@router.post("/{task_id}/retry", response_model=TaskPublic, status_code=202)
async def retry_task(task_id: str, call: TaskCallDep) -> Response:
    """Run a failed or cancelled task again under the same id (attempts + 1)."""
    rt, view = call.rt, call.view
    return await call.run(lambda session, project: service.committed_to_public(
        session, rt, view, service.retry_task(session, rt, project, task_id)), status_code=202)


@router.get("/{task_id}/logs", response_model=TaskLogsPublic)
async def read_task_logs(task_id: str, call: TaskCallDep,
                         attempt: int | None = Query(None, ge=1, description="only this attempt")) -> Response:
    """What the generator logged (``ctx.log``) while it ran."""
    def work(session: Session, project: str) -> TaskLogsPublic:
        task = service.get_task(session, project, task_id)
        query = select(TaskLog).where(TaskLog.task_id == task.id).order_by(TaskLog.id)
        if attempt is not None:
            query = query.where(TaskLog.attempt == attempt)
        rows = session.scalars(query.limit(5000))
        return TaskLogsPublic(data=[TaskLogPublic(created_at=r.created_at, attempt=r.attempt, level=r.level,
                                                  message=r.message) for r in rows])

    return await call.run(work)


@router.get("/{task_id}/attempts", response_model=list[AttemptPublic])
async def list_task_attempts(task_id: str, call: TaskCallDep) -> Response:
    """Every run of the task: worker, outcome and times."""
    def work(session: Session, project: str) -> list[AttemptPublic]:
        task = service.get_task(session, project, task_id)
        rows = session.scalars(select(TaskAttempt).where(TaskAttempt.task_id == task.id).order_by(TaskAttempt.id))
        return [AttemptPublic(number=r.number, worker=r.worker_id, status=r.status, started_at=r.started_at,
                              finished_at=r.finished_at,
                              error=ErrorInfo(code=r.error_code, message=r.error_message or "")
                              if r.error_code else None)
                for r in rows]

    return await call.run(work)


@router.post("/{task_id}/events/token", response_model=EventsToken)
async def create_events_token(task_id: str, call: TaskCallDep) -> Response:
    """A short-lived token for ``/events?token=`` (browsers' EventSource cannot send headers)."""
    rt = call.rt

    def work(session: Session, project: str) -> EventsToken:
        task = service.get_task(session, project, task_id)
        token, expires = rt.signer.sign_events(task.id, project, rt.settings.sse_token_ttl_s)
        url = f"{rt.settings.public_url.rstrip('/')}{API_PREFIX}/tasks/{task.id}/events?token={token}"
        return EventsToken(token=token, url=url, expires_at=expires)

    return await call.run(work)


@router.get("/{task_id}/events", response_class=EventSourceResponse,
            responses={200: {"content": {"text/event-stream": {}}, "description": "task events"}})
async def stream_task_events(
    task_id: str, request: Request, call: TaskCallDep,
    token: Annotated[str | None, Query(description="signed token from /events/token")] = None,
) -> EventSourceResponse:
    """Server-Sent Events: ``task`` (the task resource on each change) and ``log`` lines, until it ends.

    No database connection is held while the stream waits: each look is a short session. Every event
    has an id; reconnecting with ``Last-Event-ID`` resumes without gaps or repeats.
    """
    rt, view = call.rt, call.view
    hub = request.app.state.task_hub

    def authorise(session: Session) -> str:
        if token:
            payload = rt.signer.read_events(token)
            if payload is None or payload.get("task") != task_id:
                raise Unauthorized("events token is invalid or expired")
            project = str(payload["p"])
        else:
            project = call.project_of(session)
        service.get_task(session, project, task_id)  # 404 before the stream starts
        return project

    project = await anyio.to_thread.run_sync(lambda: _with_session(rt, authorise))

    return events_stream.event_response(request, rt, view, project, task_id, hub)


def _with_session(rt: Runtime, fn: Callable[[Session], str]) -> str:
    with rt.sessions() as session:
        return fn(session)
