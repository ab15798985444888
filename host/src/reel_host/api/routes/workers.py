"""Workers as their heartbeats describe them."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query
from sqlalchemy import select

from reel_host.api.access import PrincipalDep
from reel_host.api.deps import RuntimeDep, SessionDep
from reel_host.records.models import Worker
from reel_host.schemas.tasks import WorkerPublic, WorkersPublic
from reel_host.services.catalog import live_cutoff

router = APIRouter(prefix="/workers", tags=["workers"])


@router.get("/status", response_model=WorkersPublic)
def read_workers_status(
    rt: RuntimeDep, session: SessionDep, _who: PrincipalDep,
    include_stopped: bool = Query(False, description="also list workers that stopped cleanly"),
) -> WorkersPublic:
    cutoff = live_cutoff(rt)
    data = []
    for w in session.scalars(select(Worker).order_by(Worker.pool, Worker.id)):
        status: Literal["online", "lost", "stopped"] = (
            "stopped" if w.status == "stopped" else ("online" if w.last_heartbeat >= cutoff else "lost")
        )
        if status == "stopped" and not include_stopped:
            continue
        data.append(WorkerPublic(
            id=w.id, hostname=w.hostname, pool=w.pool, status=status, plugins=w.plugins,
            generators=[g["name"] if isinstance(g, dict) else g for g in w.generators], skipped=w.skipped,
            gpus=w.gpus, queues=w.queues, current_task=w.current_task_id if status == "online" else None,
            started_at=w.started_at, last_heartbeat=w.last_heartbeat,
        ))
    return WorkersPublic(data=data)
