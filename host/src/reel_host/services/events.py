"""Task events (queued, started, progress, succeeded, failed, cancelled) and who hears them.

Every state change of a task passes through :meth:`TaskEvents.emit`, called
inside the transaction that records the change, before its commit, with the task
already showing its new state. Sinks registered with :func:`add_sink` (callbacks,
the CMS bridge) add their outbox rows to that same session, so an event is stored
exactly when the state change is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from reel_host.observability.metrics import task_event as record_task_metrics

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

    @property
    def has_sinks(self) -> bool:
        return bool(_SINKS)

    def emit(self, session: Session, task: Task, event: str) -> None:
        record_task_metrics(task, event)  # observability: counters and histograms by generator
        for sink in list(_SINKS):
            try:
                sink(session, self.rt, task, event)
            except Exception:  # a sink must never break the task's own state change
                log.exception("event sink %r failed on %s of %s", sink, event, task.id)
