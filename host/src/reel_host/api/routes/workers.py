"""Workers as their heartbeats describe them."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query
from sqlalchemy import select

from reel_host.api.access import PrincipalDep
from reel_host.api.deps import RuntimeDep, SessionDep
from reel_host.lifecycle.fence import ago
from reel_host.records.models import Task, Worker
from reel_host.schemas.tasks import WorkerPublic, WorkersPublic

router = APIRouter(prefix="/workers", tags=["workers"])


@router.get("/status", response_model=WorkersPublic)
def read_workers_status(
    rt: RuntimeDep, session: SessionDep, who: PrincipalDep,
    include_stopped: bool = Query(False, description="also list workers that stopped cleanly"),
) -> WorkersPublic:
    """Live workers (any key); a worker's hostname and current task only to the admin or that task's project."""
    beating = Worker.last_heartbeat >= ago(session, rt.settings.worker_lost_after_s)  # the database's clock
    rows = list(session.execute(select(Worker, beating).order_by(Worker.pool, Worker.id)).tuples())
    running = {w.current_task_id for w, _ in rows if w.current_task_id}
    owner = dict(session.execute(select(Task.id, Task.project_id).where(Task.id.in_(running))).tuples().all()) \
        if running else {}
    data = []
    for w, fresh in rows:
        status: Literal["online", "lost", "stopped"] = (
            "stopped" if w.status == "stopped" else ("online" if fresh else "lost")
        )
        if status == "stopped" and not include_stopped:
            continue
        task = w.current_task_id if status == "online" else None
        mine = who.is_admin or (task is not None and who.sees(owner.get(task, "")))
        data.append(WorkerPublic(
            id=w.id, hostname=w.hostname if (who.is_admin or mine) else None, pool=w.pool, status=status,
            plugins=w.plugins, generators=[g["name"] if isinstance(g, dict) else g for g in w.generators],
            skipped=w.skipped, gpus=w.gpus, queues=w.queues, current_task=task if mine else None,
            started_at=w.started_at, last_heartbeat=w.last_heartbeat,
        ))
    return WorkersPublic(data=data)
