"""The ops view's numbers that no other route gives: queue depth per generator (instance admins)."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import func, select

from reel_host.api.access import InstanceAdminDep
from reel_host.api.deps import RuntimeDep, SessionDep, WorkerViewDep
from reel_host.queue.celery_app import queue_for
from reel_host.records.models import Task
from reel_host.schemas.accounts import QueuePublic, QueuesPublic
from reel_host.services.catalog import all_generators

router = APIRouter(prefix="/ops", tags=["ops"])


@router.get("/queues", response_model=QueuesPublic)
def list_queues(rt: RuntimeDep, session: SessionDep, view: WorkerViewDep, _admin: InstanceAdminDep) -> QueuesPublic:
    """Every generator's queue: tasks waiting, tasks running, live workers that take it."""
    counts: dict[tuple[str, str], int] = {
        (g, s): n for g, s, n in session.execute(
            select(Task.generator, Task.status, func.count()).where(Task.status.in_(("queued", "running")))
            .group_by(Task.generator, Task.status))
    }
    carriers = view.counts(session, rt)
    names = sorted(set(all_generators(session, rt, view)) | {g for g, _ in counts})
    return QueuesPublic(data=[
        QueuePublic(generator=g, queue=queue_for(g), queued=counts.get((g, "queued"), 0),
                    running=counts.get((g, "running"), 0), workers=carriers.get(g, 0)) for g in names
    ])
