"""Retention: finished tasks older than their project's ``retention_days`` go, records and files.

A project's own ``retention_days`` (``reel projects set-limits --retention-days``) wins over
``REEL_RETENTION_DAYS``; neither set keeps everything. Only finished tasks (succeeded,
failed, cancelled) are collected, by when they finished. Each task's stored files go
first and its record (outputs, attempts, logs, deliveries, by cascade) after, so a
failure to delete files keeps the record, and the next sweep tries again.

Run by ``reel gc`` and by a sweep in each API process every ``REEL_RETENTION_SWEEP_S``.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.orm import Session

from reel_host.records.models import Project, ProjectLimits, Task, TaskOutput, utcnow

if TYPE_CHECKING:
    from reel_host.runtime import Runtime

log = logging.getLogger("reel.retention")
FINISHED = ("succeeded", "failed", "cancelled")


@dataclass
class Collected:
    tasks: list[str] = field(default_factory=list)
    bytes: int = 0
    failed: list[str] = field(default_factory=list)


def expired(session: Session, rt: Runtime, limit: int = 500) -> list[tuple[str, str, int]]:
    """(task id, project, stored bytes) of finished tasks past their project's retention."""
    default = rt.settings.retention_days
    days = ProjectLimits.retention_days if default is None else func.coalesce(ProjectLimits.retention_days, default)
    now = utcnow()
    # per distinct retention in use (few), one indexed query each: no date arithmetic in SQL
    periods = {d for (d,) in session.execute(
        select(days).select_from(Project).outerjoin(ProjectLimits, ProjectLimits.project_id == Project.id)
        .distinct()) if d}
    conditions = []
    for d in sorted(periods):
        projects = select(Project.id).outerjoin(ProjectLimits, ProjectLimits.project_id == Project.id).where(days == d)
        conditions.append(and_(Task.project_id.in_(projects), Task.finished_at < now - timedelta(days=d)))
    if not conditions:
        return []
    size = select(func.coalesce(func.sum(TaskOutput.bytes), 0)).where(TaskOutput.task_id == Task.id)
    rows = session.execute(
        select(Task.id, Task.project_id, size.scalar_subquery())
        .where(Task.status.in_(FINISHED), or_(*conditions)).order_by(Task.finished_at).limit(limit)
    ).all()
    return [(t, p, int(b or 0)) for t, p, b in rows]


def collect(rt: Runtime, *, dry_run: bool = False, batch: int = 500) -> Collected:
    """Delete what retention says is expired (or, ``dry_run``, only list it)."""
    done = Collected()
    while True:
        with rt.sessions() as session:
            rows = expired(session, rt, batch)
        rows = [r for r in rows if r[0] not in done.failed]
        if not rows:
            return done
        for task_id, project, size in rows:
            if dry_run:
                done.tasks.append(task_id)
                done.bytes += size
                continue
            try:
                rt.storage.delete_prefix(f"projects/{project}/tasks/{task_id}/")
                with rt.sessions() as session:
                    session.execute(delete(Task).where(Task.id == task_id, Task.status.in_(FINISHED)))
                    session.commit()
            except Exception as exc:
                log.warning("retention: could not delete task %s: %s", task_id, exc)
                done.failed.append(task_id)
                continue
            done.tasks.append(task_id)
            done.bytes += size
        if dry_run or len(rows) < batch:
            return done


class RetentionSweeper:
    """A daemon thread of API processes: ``collect`` every ``REEL_RETENTION_SWEEP_S`` (0: never)."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="reel-retention", daemon=True)

    def start(self) -> RetentionSweeper:
        if self.rt.settings.retention_sweep_s > 0:
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def _loop(self) -> None:
        while not self._stop.wait(self.rt.settings.retention_sweep_s):
            try:
                gone = collect(self.rt)
                if gone.tasks:
                    log.info("retention: deleted %d tasks (%d bytes)", len(gone.tasks), gone.bytes)
            except Exception as exc:
                log.warning("retention sweep failed: %s: %s", type(exc).__name__, exc)
