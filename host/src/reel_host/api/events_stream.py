"""A task's Server-Sent Events with ids, so a reconnecting client misses nothing and sees nothing twice.

Two things stream: ``log`` lines (rows with increasing ids) and ``task`` snapshots (the task
resource whenever what a watcher sees changes). Every event's id is ``<log>:<state>``: the id of
the last log line sent and a short digest of the last task state sent. ``EventSource`` sends the
last id it saw as ``Last-Event-ID`` when it reconnects; the stream then resumes after that log
line and sends the task state only if it differs from the one the client already has.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Request
from sqlalchemy import select
from sse_starlette.sse import EventSourceResponse

from reel_host.api.shared_reads import SharedReads
from reel_host.errors import NotFound
from reel_host.lifecycle.push import TaskHub
from reel_host.records.models import FINISHED, TaskLog
from reel_host.runtime import Runtime
from reel_host.services import tasks as service
from reel_host.services.catalog import WorkerView

NO_STATE = "0"
LOG_PAGE = 500


def parse_last_event_id(value: str | None) -> tuple[int, str]:
    """``"<log>:<state>"`` → (log id, state digest); anything else starts from the beginning."""
    if not value:
        return 0, NO_STATE
    log, _, state = value.strip().partition(":")
    try:
        return max(0, int(log)), (state or NO_STATE)[:32]
    except ValueError:
        return 0, NO_STATE


def state_digest(public: dict[str, Any]) -> str:
    """What a watcher sees change: status, progress, message, attempts, queue place, waiting."""
    seen = [public["status"], public["progress"], public["message"], public["attempts"],
            public["queue_position"], public["waiting_for_worker"]]
    return hashlib.sha1(json.dumps(seen).encode()).hexdigest()[:12]


def event_response(request: Request, rt: Runtime, view: WorkerView, project: str,
                   task_id: str, hub: TaskHub) -> EventSourceResponse:
    """The SSE response for one task (already authorised), resuming after the request's ``Last-Event-ID``."""
    last_log, last_state = parse_last_event_id(request.headers.get("last-event-id"))

    def snapshot(after_log: int) -> tuple[dict[str, Any], list[TaskLog]]:
        with rt.sessions() as session:
            task = service.get_task(session, project, task_id, with_outputs=True)
            # the logs first, then the state: a state that shows "finished" comes after its last lines
            logs = list(session.scalars(select(TaskLog).where(TaskLog.task_id == task_id, TaskLog.id > after_log)
                                        .order_by(TaskLog.id).limit(LOG_PAGE)))
            public = service.to_public(session, rt, view, task).model_dump(mode="json")
            return public, logs

    reads: SharedReads = request.app.state.shared_reads

    async def events() -> AsyncIterator[dict[str, str]]:
        nonlocal last_log, last_state
        while True:
            since = hub.mark()  # before the read: a change announced meanwhile wakes the wait below
            try:  # the streams of this task woken by the same change share one read
                public, logs = await reads.read(("task-events", project, task_id, last_log), since,
                                                functools.partial(snapshot, last_log))
            except NotFound:
                return
            for line in logs:
                last_log = line.id
                yield {"event": "log", "id": f"{last_log}:{last_state}",
                       "data": json.dumps({"id": line.id, "attempt": line.attempt, "level": line.level,
                                           "message": line.message,
                                           "created_at": line.created_at.isoformat()})}
            if len(logs) == LOG_PAGE:
                continue  # more lines wait: send them before the state
            digest = state_digest(public)
            if digest != last_state:
                last_state = digest
                yield {"event": "task", "id": f"{last_log}:{last_state}", "data": json.dumps(public)}
            if public["status"] in FINISHED:
                return
            if await request.is_disconnected():
                return
            # woken by the push hub when the task changes; the timeout also notices a disconnect
            await hub.wait(task_id, rt.settings.events_poll_s, since=since)

    return EventSourceResponse(events(), ping=15)
