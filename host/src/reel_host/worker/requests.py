"""The worker main process's view of one message: time limits, timeouts, lost children.

Celery runs ``reel.run`` in a pool child; this Request lives in the main process,
which survives the child. It gives each message the time limits of its generator
(soft: the limit, raised in the child as ``SoftTimeLimitExceeded``; hard: the limit
plus ``REEL_CANCEL_GRACE_S``, when the main process kills the child), records a hard
timeout as ``time_limit_exceeded``, and decides what happens to the message of a
child that died (see :mod:`reel_host.services.recovery`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from celery.exceptions import WorkerLostError
from celery.worker.request import Request
from celery.worker.state import task_ready
from sqlalchemy import update

from reel_host.records.db import rowcount
from reel_host.records.models import Task, TaskAttempt, Worker, utcnow
from reel_host.runtime import Runtime
from reel_host.services.events import TaskEvents
from reel_host.services.recovery import child_lost, close_dead_run

log = logging.getLogger("reel.worker")

TIME_LIMIT_CODE = "time_limit_exceeded"
# billiard checks time limits once a second: a smaller gap could skip the soft limit
MIN_HARD_GAP_S = 2.0


def hard_gap(rt: Runtime) -> float:
    """Seconds between a run's soft limit and the hard one that kills its process."""
    return max(rt.settings.cancel_grace_s, MIN_HARD_GAP_S)


def time_limit_message(soft: float) -> str:
    return f"the task ran past its time limit of {soft:g}s and was stopped"


def fail_for_time_limit(rt: Runtime, worker_id: str, task_id: str, attempt: int, soft: float) -> bool:
    """Record a run stopped at its hard time limit (fenced by attempt); True if recorded."""
    message = time_limit_message(soft) + f" (killed {hard_gap(rt):g}s after it ignored the soft limit)"
    now = utcnow()
    with rt.sessions() as session:
        done = session.execute(
            update(Task)
            .where(Task.id == task_id, Task.attempts == attempt, Task.status == "running")
            .values(
                status="failed",
                error_code=TIME_LIMIT_CODE,
                error_message=message,
                message="failed",
                finished_at=now,
                updated_at=now,
            )
        )
        if rowcount(done) == 0:
            session.rollback()
            return False
        session.execute(
            update(TaskAttempt)
            .where(TaskAttempt.task_id == task_id, TaskAttempt.finished_at.is_(None))
            .values(status="failed", error_code=TIME_LIMIT_CODE, error_message=message, finished_at=now)
        )
        session.execute(
            update(Worker)
            .where(Worker.id == worker_id, Worker.current_task_id == task_id)
            .values(current_task_id=None)
        )
        task = session.get(Task, task_id)
        if task is not None:
            session.refresh(task)
            TaskEvents(rt).emit(session, task, "failed")
        session.commit()
    return True


def make_request_class(
    rt: Runtime, worker_id: str, soft_limit_of: Callable[[str | None], float]
) -> type[Request]:
    """A Request subclass bound to this worker (Celery instantiates it per message)."""
    gap = hard_gap(rt)

    class ReelRequest(Request):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            soft = soft_limit_of((self.kwargs or {}).get("generator"))
            self.reel_soft_limit = soft
            self.time_limits = (soft + gap, soft)  # (hard, soft), as Celery reads them

        @property
        def reel_task(self) -> tuple[str, int] | None:
            try:
                return str(self.args[0]), int(self.args[1])
            except (IndexError, TypeError, ValueError):
                return None

        def on_timeout(self, soft: bool, timeout: float) -> None:
            target = self.reel_task
            if not soft and target is not None:
                try:
                    if fail_for_time_limit(rt, worker_id, *target, self.reel_soft_limit):
                        log.error(
                            "task %s attempt %s: hard time limit of %ss reached; killing its process",
                            *target,
                            timeout,
                        )
                    else:  # it had ended already (cancelled, superseded): only its row is left open
                        close_dead_run(rt, worker_id, *target)
                except Exception:
                    log.exception("recording the time limit of %s failed", target)
            super().on_timeout(soft, timeout)

        def on_failure(self, exc_info: Any, send_failed_event: bool = True, return_ok: bool = False) -> None:
            exc = getattr(exc_info.exception, "exc", exc_info.exception)
            target = self.reel_task
            lost = isinstance(exc, WorkerLostError) or (
                isinstance(exc, SystemExit | KeyboardInterrupt)
                and not (self._already_cancelled or self._already_revoked)
            )
            if lost and target is not None:
                try:
                    outcome = child_lost(rt, worker_id, *target)
                except Exception:  # records unreachable: let Celery requeue; claim() bounds it
                    log.exception("recording the lost run of %s failed", target)
                    outcome = "requeue"
                if outcome == "drop":
                    task_ready(self)
                    self.acknowledge()
                    return
            super().on_failure(exc_info, send_failed_event=send_failed_event, return_ok=return_ok)

    return ReelRequest
