"""Runs that died without finishing: put the task back in its queue, or give up after a bound.

- A pool child is killed (out-of-memory killer, ``os._exit``, a forced cancel): the worker's
  main process sees it at once and calls :func:`child_lost` before Celery requeues the
  message (``task_reject_on_worker_lost``); the attempt number stays, the message is the same.
- A whole worker dies (machine gone, main process SIGKILLed): its message stays
  unacknowledged in Redis for hours, so the reconciler (in every API and worker process)
  calls :func:`requeue_lost_tasks`, which finds tasks running on workers that stopped
  heartbeating and queues them again under a new attempt number, fencing out a late write
  of the old run (a paused, not dead, worker).
- A run ignores its soft time limit until the hard one kills it: :func:`fail_for_time_limit`.

Both kinds of death count ``lost_runs``; past ``REEL_WORKER_LOST_MAX`` the task fails
``worker_lost_repeatedly`` instead of looping (the known trap of a task that keeps
killing its worker). That rule lives here once, in :func:`_after_lost_run`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from reel_host.lifecycle import workers
from reel_host.lifecycle.dispatch import publish_after_commit
from reel_host.lifecycle.fence import close_attempt_rows, emit, fenced_update, now_of
from reel_host.lifecycle.status import AttemptStatus, TaskStatus
from reel_host.records.models import Task, Worker

if TYPE_CHECKING:
    from reel_host.runtime import Runtime

log = logging.getLogger("reel.recovery")

LOST_CODE = "worker_lost"
GAVE_UP_CODE = "worker_lost_repeatedly"
TIME_LIMIT_CODE = "time_limit_exceeded"


def gave_up_message(runs: int, limit: int, what: str) -> str:
    return (f"{what} {runs} times (limit {limit} re-runs, REEL_WORKER_LOST_MAX); "
            "the task may be killing its worker, e.g. by running out of memory")


def time_limit_message(soft: float) -> str:
    return f"the task ran past its time limit of {soft:g}s and was stopped"


def _after_lost_run(session: Session, rt: Runtime, task: Task, what: str, *, new_attempt: bool) -> dict[str, Any]:
    """The values of a task whose run was lost: queued again, or failed past the limit."""
    runs, limit = task.lost_runs + 1, rt.settings.worker_lost_max
    if runs > limit:
        return dict(status=TaskStatus.FAILED, error_code=GAVE_UP_CODE, message="failed", lost_runs=runs,
                    error_message=gave_up_message(runs, limit, what), finished_at=now_of(session))
    values: dict[str, Any] = dict(status=TaskStatus.QUEUED, worker_id=None, progress=0.0, lost_runs=runs,
                                  message=f"re-queued: {what} (re-run {runs} of at most {limit})")
    if new_attempt:  # a new attempt number fences out late writes of the old run
        values.update(attempts=task.attempts + 1, started_at=None, queued_at=now_of(session),
                      due_at=now_of(session), dispatched_at=now_of(session))
    return values


def child_lost(rt: Runtime, worker_id: str, task_id: str, attempt: int) -> Literal["requeue", "drop"]:
    """A pool child of ``worker_id`` died running (task, attempt): requeue it or end it.

    Called in the worker's main process. ``"requeue"``: Celery should hand the message out
    again; ``"drop"``: acknowledge it (cancelled, finished, superseded, or now failed for good).
    """
    with rt.sessions() as session:
        task = session.get(Task, task_id)
        if task is None:
            return "drop"
        if task.attempts != attempt or task.status not in (TaskStatus.QUEUED, TaskStatus.RUNNING):
            _close_dead_run(session, task, attempt, worker_id)  # cancelled (maybe force-killed), finished, superseded
            session.commit()
            return "drop"
        if task.status == TaskStatus.RUNNING and task.worker_id != worker_id:
            return "drop"  # another worker runs it: this was a duplicate delivery
        what = "its worker process died"
        row = fenced_update(session, task_id, expect=TaskStatus(task.status), attempt=attempt,
                            **_after_lost_run(session, rt, task, what, new_attempt=False))
        if row is None:
            session.rollback()
            return "drop"
        close_attempt_rows(session, task_id, AttemptStatus.LOST, LOST_CODE, f"{what} while running this attempt")
        workers.clear_current(session, worker_id, task_id)
        emit(session, rt, row, row.status)
        session.commit()
        log.warning("task %s: %s (lost run %d of %d): %s", task_id, what, row.lost_runs,
                    rt.settings.worker_lost_max, row.status)
        return "requeue" if row.status == TaskStatus.QUEUED else "drop"


def requeue_lost_tasks(rt: Runtime) -> list[str]:
    """Queue again (or fail) tasks running on workers that stopped heartbeating; return their ids."""
    handled = []
    with rt.sessions() as session:
        lost_workers = select(Worker.id).where(workers.is_lost(session, rt))
        candidates = list(session.scalars(
            select(Task).where(Task.status == TaskStatus.RUNNING, Task.worker_id.in_(lost_workers))))
        for task in candidates:
            old_worker, what = task.worker_id, f"its worker {task.worker_id} was lost"
            row = fenced_update(session, task.id, expect=TaskStatus.RUNNING, attempt=task.attempts,
                                where=[Task.worker_id == old_worker],
                                **_after_lost_run(session, rt, task, what, new_attempt=True))
            if row is None:  # another reconciler, or the run itself, got there first
                session.rollback()
                continue
            close_attempt_rows(session, task.id, AttemptStatus.LOST, LOST_CODE,
                               f"{what} (no heartbeat for {rt.settings.worker_lost_after_s:g}s)")
            emit(session, rt, row, row.status)
            if row.status == TaskStatus.QUEUED:
                publish_after_commit(session, rt, row)
            session.commit()
            handled.append(task.id)
            log.warning("task %s: %s; now %s (lost run %d of %d)", task.id, what, row.status, row.lost_runs,
                        rt.settings.worker_lost_max)
    return handled


def fail_for_time_limit(rt: Runtime, worker_id: str, task_id: str, attempt: int, soft: float, gap: float) -> bool:
    """Record a run stopped at its hard time limit (fenced by attempt); True if recorded."""
    message = time_limit_message(soft) + f" (killed {gap:g}s after it ignored the soft limit)"
    with rt.sessions() as session:
        row = fenced_update(session, task_id, expect=TaskStatus.RUNNING, attempt=attempt,
                            status=TaskStatus.FAILED, error_code=TIME_LIMIT_CODE, error_message=message,
                            message="failed", finished_at=now_of(session))
        if row is None:
            session.rollback()
            return False
        close_attempt_rows(session, task_id, AttemptStatus.FAILED, TIME_LIMIT_CODE, message)
        workers.clear_current(session, worker_id, task_id)
        emit(session, rt, row, "failed")
        session.commit()
        return True


def close_dead_run(rt: Runtime, worker_id: str, task_id: str, attempt: int) -> None:
    """Close the attempt row of a run whose process was killed after its task ended."""
    with rt.sessions() as session:
        task = session.get(Task, task_id)
        if task is not None:
            _close_dead_run(session, task, attempt, worker_id)
            session.commit()


def _close_dead_run(session: Session, task: Task, attempt: int, worker_id: str) -> None:
    cancelled = task.status == TaskStatus.CANCELLED and task.attempts == attempt
    close_attempt_rows(session, task.id, AttemptStatus.CANCELLED if cancelled else AttemptStatus.LOST,
                       "cancelled" if cancelled else LOST_CODE, f"task was {task.status}; its process was stopped",
                       number=attempt, worker_id=worker_id)
    workers.clear_current(session, worker_id, task.id)
