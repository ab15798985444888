"""Per-project limits: read, set, and enforce at submit.

Over a limit, submit answers 429 with ``Retry-After`` and a code naming the limit:
``limit_submissions_per_minute`` (token bucket in the shared ``Throttle``, so it holds
across API processes), ``limit_max_queued`` and ``limit_storage_bytes`` (counted in the
records, the truth every API process shares). ``max_running`` does not refuse: a project
with a running cap has its tasks sent to the broker only by the dispatch reconciler (one
process at a time, under its advisory lock), and only while fewer than the cap of its
tasks run or are on their way to a worker; the others wait in the queue and their
``message`` says why.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from reel_host.errors import NotFound, TooManyRequests
from reel_host.observability import logs
from reel_host.records.models import Project, ProjectLimits, Task, TaskOutput, utcnow
from reel_host.schemas.limits import ProjectLimitsPublic, ProjectLimitsUpdate
from reel_host.throttle import Throttle

if TYPE_CHECKING:
    from reel_host.runtime import Runtime

LIMIT_FIELDS = tuple(ProjectLimitsUpdate.model_fields)
STORAGE_RETRY_AFTER_S = 3600  # storage frees up only when outputs are deleted (retention, gc)


def usage(session: Session, project: str) -> dict[str, int]:
    counts = dict(session.execute(
        select(Task.status, func.count()).where(Task.project_id == project, Task.status.in_(("queued", "running")))
        .group_by(Task.status)
    ).all())
    return {"queued": int(counts.get("queued", 0)), "running": int(counts.get("running", 0)),
            "storage_bytes": stored_bytes(session, project)}


def stored_bytes(session: Session, project: str) -> int:
    total = session.scalar(
        select(func.coalesce(func.sum(TaskOutput.bytes), 0)).join(Task, Task.id == TaskOutput.task_id)
        .where(Task.project_id == project)
    )
    return int(total or 0)


def read_limits(session: Session, project: str) -> ProjectLimitsPublic:
    if session.get(Project, project) is None:
        raise NotFound(f"project {project!r} does not exist", code="project_not_found")
    row = session.get(ProjectLimits, project)
    values = {f: getattr(row, f) for f in LIMIT_FIELDS} if row else {}
    return ProjectLimitsPublic(project=project, updated_at=row.updated_at if row else None,
                               usage=usage(session, project), **values)


def set_limits(session: Session, project: str, body: ProjectLimitsUpdate) -> ProjectLimitsPublic:
    """Replace the project's limits (null: unlimited)."""
    if session.get(Project, project) is None:
        raise NotFound(f"project {project!r} does not exist", code="project_not_found")
    row = session.get(ProjectLimits, project) or ProjectLimits(project_id=project)
    for name in LIMIT_FIELDS:
        setattr(row, name, getattr(body, name))
    row.updated_at = utcnow()
    session.add(row)
    session.commit()
    session.info.pop(LIMITS_MEMO, None)
    return read_limits(session, project)


LIMITS_MEMO = "reel_project_limits"


def project_limits(session: Session, project: str) -> ProjectLimits | None:
    """The project's limits row, read once per session (a submit checks them twice; a batch
    submit once per task)."""
    memo: dict[str, ProjectLimits | None] = session.info.setdefault(LIMITS_MEMO, {})
    if project not in memo:
        memo[project] = session.get(ProjectLimits, project)
    return memo[project]


def enforce_submit_limits(session: Session, rt: Runtime, project: str) -> None:
    """Refuse a submit over the project's limits (429); also names the project in the log context.

    Raises:
        TooManyRequests: with the code of the limit that refused it and when to retry.
    """
    logs.bind(project=project)
    limits = project_limits(session, project)
    if limits is None:
        return
    if limits.max_queued is not None:
        queued = session.scalar(
            select(func.count()).select_from(Task).where(Task.project_id == project, Task.status == "queued"))
        if int(queued or 0) >= limits.max_queued:
            raise TooManyRequests(
                f"project {project!r} has {queued} queued tasks, its limit (max_queued) is {limits.max_queued}; "
                "retry when some have started", rt.settings.limit_retry_after_s, code="limit_max_queued",
                details=[{"limit": "max_queued", "value": limits.max_queued, "current": int(queued or 0)}])
    if limits.storage_bytes is not None:
        stored = stored_bytes(session, project)
        if stored >= limits.storage_bytes:
            raise TooManyRequests(
                f"project {project!r} stores {stored} bytes of outputs, its limit (storage_bytes) is "
                f"{limits.storage_bytes}; delete outputs or raise the limit", STORAGE_RETRY_AFTER_S,
                code="limit_storage_bytes",
                details=[{"limit": "storage_bytes", "value": limits.storage_bytes, "current": stored}])
    if limits.submissions_per_minute:
        per_min = limits.submissions_per_minute
        wait = Throttle(rt).hit(f"submit:{project}", per_min / 60.0, per_min)
        if wait is not None:
            raise TooManyRequests(
                f"project {project!r} is over its limit of {per_min} submissions per minute; "
                f"retry in {wait:.1f} s", wait, code="limit_submissions_per_minute",
                details=[{"limit": "submissions_per_minute", "value": per_min}])


# -- max_running: held in the queue, dispatched by the reconciler under the cap ---------------


def _in_flight(project: Any) -> Any:
    """SQL count of a project's tasks running or handed to the broker (about to run)."""
    t = aliased(Task)
    return (
        select(func.count()).select_from(t)
        .where(t.project_id == project,
               or_(t.status == "running", and_(t.status == "queued", t.dispatched_at.is_not(None))))
        .scalar_subquery()
    )


def under_running_cap() -> Any:
    """SQL condition on ``Task``: its project has no running cap, or room under it."""
    return ~exists().where(
        ProjectLimits.project_id == Task.project_id, ProjectLimits.max_running.is_not(None),
        ProjectLimits.max_running <= _in_flight(ProjectLimits.project_id),
    )


def hold_for_running_cap(session: Session, task: Task) -> bool:
    """A project with a running cap is dispatched only by the reconciler (one at a time, under
    its lock), so the cap holds across API processes: leave the task unsent and say so."""
    limits = project_limits(session, task.project_id)
    if limits is None or limits.max_running is None:
        return False
    session.execute(update(Task).where(Task.id == task.id, Task.attempts == task.attempts)
                    .values(dispatched_at=None), execution_options={"synchronize_session": False})
    return True


def running_slot_free(session: Session, task_id: str) -> bool:
    """Does the task's project have room under its running cap now (no cap: always)?"""
    row = session.execute(
        select(ProjectLimits.max_running, _in_flight(ProjectLimits.project_id))
        .join(Task, Task.project_id == ProjectLimits.project_id).where(Task.id == task_id)
    ).first()
    return row is None or row[0] is None or row[1] < row[0]


def held_message(session: Session, task: Task) -> str | None:
    """Why a queued task waits, when it is its project's running cap (for the task's ``message``)."""
    if task.status != "queued" or task.dispatched_at is not None:
        return None
    limits = project_limits(session, task.project_id)
    cap = limits.max_running if limits is not None else None
    if cap is None or int(session.scalar(select(_in_flight(task.project_id))) or 0) < cap:
        return None
    return f"held: project {task.project_id!r} runs {cap} tasks at once (its max_running limit)"
