"""One worker-thread hop per request: authenticate, work and serialise with one session.

Why: a sync handler with a request-scoped session (a ``yield`` dependency) keeps its
database connection checked out while FastAPI validates the response in *another*
threadpool hop. Under load every thread then waits for a connection while every
connection waits for a thread: the status endpoint locked up for good at 200 req/s.
Here the handler is ``async``; it runs one function in the threadpool that opens a
session, authenticates the key, does the work, serialises the answer to bytes and
closes the session before anything else is awaited. Nothing waits for a thread while
holding a connection, and each request costs one hop instead of about seven.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import anyio
from fastapi import Depends, Header, Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from reel_host.errors import Unauthorized
from reel_host.lifecycle.fence import DB_ERRORS
from reel_host.lifecycle.status import ACTIVE, FINISHED
from reel_host.runtime import Runtime
from reel_host.schemas.tasks import TaskPublic
from reel_host.services.catalog import WorkerView

log = logging.getLogger("reel.api")
JSON = "application/json"
FALLBACK_LOOK_S = 5.0  # a notification lost with a dropped connection costs at most this
_PREFER_WAIT = re.compile(r"(?:^|[,;\s])wait\s*=\s*(\d{1,6})(?:$|[,;\s])", re.IGNORECASE)


def prefer_wait(prefer: str | None, cap_s: float) -> float | None:
    """Seconds of an RFC 7240 ``Prefer: wait=N`` header, capped by ``REEL_MAX_WAIT_S``; None without one."""
    if not prefer:
        return None
    match = _PREFER_WAIT.search(prefer)
    return min(float(match.group(1)), cap_s) if match else None


def parse_bearer(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer`` header (None without one; 401 when malformed)."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Authorization must be 'Bearer <api key>'")
    return token.strip()


@dataclass
class ApiCall:
    """What a handler needs to run its work in one thread: the runtime and the caller's key."""

    request: Request
    rt: Runtime
    view: WorkerView
    token: str | None
    push_mark: int = 0  # the push hub's mark before this request read anything (see lifecycle.push)

    def __post_init__(self) -> None:
        hub = getattr(self.request.app.state, "task_hub", None)
        if hub is not None:
            self.push_mark = hub.mark()

    def project_of(self, session: Session) -> str:
        """The project of the caller's API key (401 without a valid one)."""
        from reel_host.api.deps import key_identity  # the one key check: cache, expiry, revocation, throttle

        return key_identity(self.request, session, self.token).project

    async def run(self, work: Callable[[Session, str], Any], status_code: int = 200,
                  headers: dict[str, str] | None = None) -> Response:
        """Run ``work(session, project)`` in one thread and answer with what it returned.

        ``work`` returns a pydantic model (serialised in that thread, before the session
        closes) or a ready :class:`Response`.
        """
        def call() -> Response:
            with self.rt.sessions() as session:
                result = work(session, self.project_of(session))
                if isinstance(result, Response):
                    return result
                return as_json(result, status_code, headers)

        return await anyio.to_thread.run_sync(call)

    async def run_model(self, work: Callable[[Session, str], Any]) -> Any:
        """Run ``work(session, project)`` in one thread and return what it returned (a pydantic model)."""
        def call() -> Any:
            with self.rt.sessions() as session:
                return work(session, self.project_of(session))

        return await anyio.to_thread.run_sync(call)

    async def wait_until_finished(self, task: TaskPublic, wait_s: float,
                                  read: Callable[[Session, str], TaskPublic]) -> TaskPublic:
        """``Prefer: wait``: the task once it is finished, or as it is after ``wait_s`` seconds.

        Woken by the process's push hub on each change of the task; no thread and no
        database connection is held while it waits.
        """
        deadline = time.monotonic() + wait_s
        hub = self.request.app.state.task_hub
        since = self.push_mark  # taken before ``task`` was read: a change since then wakes at once
        while task.status not in FINISHED:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            changed = await hub.wait(task.id, min(left, FALLBACK_LOOK_S), since=since)
            since = hub.mark()
            if changed and hub.announced_status(task.id) in ACTIVE:
                continue  # it only started (or made progress): nothing to answer yet, no read
            try:
                task = await self.run_model(read)
            except DB_ERRORS as exc:
                # the database went away while we waited: answer with the task as last read
                # (a submit is committed by now; a 503 would invite the client to submit again)
                log.warning("task %s: stopped waiting, the database is unavailable (%s)", task.id, type(exc).__name__)
                break
        return task

    async def run_open(self, work: Callable[[Session], Any], status_code: int = 200) -> Response:
        """Like :meth:`run` for routes that take no key."""
        def call() -> Response:
            with self.rt.sessions() as session:
                result = work(session)
                return result if isinstance(result, Response) else as_json(result, status_code)

        return await anyio.to_thread.run_sync(call)


def as_json(model: BaseModel | list[BaseModel], status_code: int = 200,
            headers: dict[str, str] | None = None) -> Response:
    """Serialise once with pydantic's JSON encoder (no second validation pass)."""
    if isinstance(model, list):
        body = b"[" + b",".join(m.model_dump_json().encode() for m in model) + b"]"
    else:
        body = model.model_dump_json().encode()
    return Response(body, status_code=status_code, media_type=JSON, headers=headers)


async def api_call(
    request: Request, authorization: Annotated[str | None, Header(include_in_schema=False)] = None
) -> ApiCall:
    """An async dependency: reads the header only, so it costs no threadpool hop."""
    state = request.app.state
    return ApiCall(request, state.runtime, state.worker_view, parse_bearer(authorization))


ApiCallDep = Annotated[ApiCall, Depends(api_call)]
