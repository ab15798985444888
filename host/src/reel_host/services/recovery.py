"""Runs that died with their worker: put the task back in its queue, or give up after a bound.

Two ways a run dies without finishing:

- its pool child is killed (out-of-memory killer, ``os._exit``, a forced cancel): the
  worker's main process sees it at once and calls :func:`child_lost` before Celery
  requeues the message (``task_reject_on_worker_lost``);
- the whole worker dies (machine gone, main process SIGKILLed): its message stays
  unacknowledged in Redis until the visibility timeout (hours), so every live worker's
  heartbeat calls :func:`requeue_lost_tasks`, which finds tasks ``running`` on workers
  that stopped heartbeating and dispatches them again under a new attempt number, so a
  late write from the old run (a paused, not dead, worker) is fenced out.

Both count ``lost_runs``; past ``REEL_WORKER_LOST_MAX`` the task fails
``worker_lost_repeatedly`` instead of looping (the known Celery trap of a task that
keeps killing its worker).
"""

from __future__ import annotations

import logging
from typing import Literal

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from reel_host.records.db import rowcount
from reel_host.records.models import Task, TaskAttempt, Worker, utcnow
from reel_host.runtime import Runtime
from reel_host.services.catalog import live_cutoff
from reel_host.services.events import TaskEvents
from reel_host.services.tasks import dispatch

log = logging.getLogger("reel.recovery")

LOST_CODE = "worker_lost"
GAVE_UP_CODE = "worker_lost_repeatedly"


def _close_open_attempts(session: Session, task_id: str, message: str) -> None:
    session.execute(
        update(TaskAttempt)
        .where(TaskAttempt.task_id == task_id, TaskAttempt.finished_at.is_(None))
        .values(status="lost", error_code=LOST_CODE, error_message=message, finished_at=utcnow())
    )


def _gave_up_message(runs: int, limit: int, what: str) -> str:
    return (
        f"{what} {runs} times (limit {limit} re-runs, REEL_WORKER_LOST_MAX); "
        "the task may be killing its worker, e.g. by running out of memory"
    )


def close_dead_run(rt: Runtime, worker_id: str, task_id: str, attempt: int) -> None:
    """Close the attempt row of a run whose process was killed after its task ended."""
    with rt.sessions() as session:
        task = session.get(Task, task_id)
        if task is not None:
            _close_dead_run(session, task, attempt, worker_id)
            session.commit()


def _close_dead_run(session: Session, task: Task, attempt: int, worker_id: str) -> None:
    status = "cancelled" if task.status == "cancelled" and task.attempts == attempt else "lost"
    session.execute(
        update(TaskAttempt)
        .where(
            TaskAttempt.task_id == task.id,
            TaskAttempt.number == attempt,
            TaskAttempt.worker_id == worker_id,
            TaskAttempt.finished_at.is_(None),
        )
        .values(
            status=status,
            error_code="cancelled" if status == "cancelled" else LOST_CODE,
            error_message=f"task was {task.status}; its process was stopped",
            finished_at=utcnow(),
        )
    )


def child_lost(rt: Runtime, worker_id: str, task_id: str, attempt: int) -> Literal["requeue", "drop"]:
    """A pool child of ``worker_id`` died running (task, attempt): requeue it or end it.

    Called in the worker's main process. Returns ``"requeue"`` when Celery should hand
    the message out again, ``"drop"`` when it should be acknowledged (the task was
    cancelled, finished, superseded, or has now failed for good).
    """
    limit = rt.settings.worker_lost_max
    with rt.sessions() as session:
        task = session.get(Task, task_id)
        if task is None:
            return "drop"
        if task.attempts != attempt or task.status not in ("queued", "running"):
            # cancelled (maybe force-killed by the watchdog), finished or superseded
            _close_dead_run(session, task, attempt, worker_id)
            session.commit()
            return "drop"
        if task.status == "running" and task.worker_id != worker_id:
            return "drop"  # another worker runs it: this was a duplicate delivery
        runs = task.lost_runs + 1
        fence = (Task.id == task_id, Task.attempts == attempt, Task.status == task.status)
        now = utcnow()
        what = "its worker process died"
        if runs > limit:
            values = dict(
                status="failed",
                error_code=GAVE_UP_CODE,
                error_message=_gave_up_message(runs, limit, what),
                message="failed",
                finished_at=now,
            )
        else:
            values = dict(
                status="queued",
                worker_id=None,
                progress=0.0,
                message=f"re-queued: {what} (re-run {runs} of at most {limit})",
            )
        done = session.execute(update(Task).where(*fence).values(lost_runs=runs, updated_at=now, **values))
        if rowcount(done) == 0:
            session.rollback()
            return "drop"
        _close_open_attempts(session, task_id, f"{what} while running this attempt")
        session.execute(
            update(Worker)
            .where(Worker.id == worker_id, Worker.current_task_id == task_id)
            .values(current_task_id=None)
        )
        session.refresh(task)
        TaskEvents(rt).emit(session, task, task.status)
        session.commit()
        log.warning("task %s: %s (lost run %d of %d): %s", task_id, what, runs, limit, task.status)
        return "requeue" if task.status == "queued" else "drop"


def requeue_lost_tasks(rt: Runtime) -> list[str]:
    """Re-queue (or fail) tasks running on workers that stopped heartbeating; return their ids."""
    with rt.sessions() as session:
        lost_workers = select(Worker.id).where(
            or_(Worker.last_heartbeat < live_cutoff(rt), Worker.status == "stopped")
        )
        candidates = list(
            session.scalars(select(Task).where(Task.status == "running", Task.worker_id.in_(lost_workers)))
        )
        handled = []
        for task in candidates:
            if _requeue_one(session, rt, task):
                handled.append(task.id)
                if task.status == "queued":
                    try:
                        dispatch(session, rt, task)
                    except Exception:  # broker down: dispatch already marked the task failed
                        log.exception("could not re-queue %s", task.id)
        return handled


def _requeue_one(session: Session, rt: Runtime, task: Task) -> bool:
    limit = rt.settings.worker_lost_max
    old_worker, attempt, runs = task.worker_id, task.attempts, task.lost_runs + 1
    what = f"its worker {old_worker} was lost"
    now = utcnow()
    if runs > limit:
        values = dict(
            status="failed",
            error_code=GAVE_UP_CODE,
            message="failed",
            finished_at=now,
            error_message=_gave_up_message(runs, limit, "its worker was lost"),
        )
    else:
        # a new attempt number fences out late writes of the old run
        values = dict(
            status="queued",
            attempts=attempt + 1,
            worker_id=None,
            progress=0.0,
            started_at=None,
            queued_at=now,
            message=f"re-queued: {what} (re-run {runs} of at most {limit})",
        )
    done = session.execute(
        update(Task)
        .where(
            Task.id == task.id,
            Task.attempts == attempt,
            Task.status == "running",
            Task.worker_id == old_worker,
        )
        .values(lost_runs=runs, updated_at=now, **values)
    )
    if rowcount(done) == 0:  # another sweeper, or the run itself, got there first
        session.rollback()
        return False
    _close_open_attempts(session, task.id, f"{what} (no heartbeat for {rt.settings.worker_lost_after_s:g}s)")
    session.refresh(task)
    TaskEvents(rt).emit(session, task, task.status)
    session.commit()
    log.warning("task %s: %s; now %s (lost run %d of %d)", task.id, what, task.status, runs, limit)
    return True
