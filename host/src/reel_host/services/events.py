"""Task events (queued, started, progress, succeeded, failed, cancelled) and who hears them.

Every state change of a task passes through :meth:`TaskEvents.emit`. Sinks
registered with :func:`add_sink` (callbacks, the CMS bridge) are called with the
session that recorded the change, so they can write durable outbox rows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from reel_host.records.models import Task
    from reel_host.runtime import Runtime

log = logging.getLogger("reel.events")

EVENTS = ("queued", "started", "progress", "succeeded", "failed", "cancelled")
Sink = Callable[["Session", "Runtime", "Task", str], None]
_SINKS: list[Sink] = []


def add_sink(sink: Sink) -> None:
    """Register a function called on every task event (idempotent)."""
    if sink not in _SINKS:
        _SINKS.append(sink)


class TaskEvents:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def emit(self, session: Session, task: Task, event: str) -> None:
        for sink in list(_SINKS):
            try:
                sink(session, self.rt, task, event)
            except Exception:  # a sink must never break the task's own state change
                log.exception("event sink %r failed on %s of %s", sink, event, task.id)
