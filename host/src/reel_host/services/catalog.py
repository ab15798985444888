"""Which generators exist: installed here, or advertised by live workers."""

from __future__ import annotations

import bisect
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from reel_host.queue.celery_app import queue_for
from reel_host.records.models import Task, Worker
from reel_host.runtime import Runtime


@dataclass
class GeneratorInfo:
    name: str
    kind: str
    title: str | None
    description: str | None
    plugin: str | None
    distribution: str | None
    version: str | None
    params_schema: dict[str, Any]
    requirements: dict[str, Any]

    @property
    def queue(self) -> str:
        return queue_for(self.name)

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def local_generators(rt: Runtime) -> dict[str, GeneratorInfo]:
    """Generators of the plugins installed in this process (built once per registry)."""
    cached: dict[str, GeneratorInfo] | None = getattr(rt.registry, "_infos", None)
    if cached is not None:
        return cached
    out = {}
    for name, gen in rt.registry.generators.items():
        plugin = rt.registry.plugin_of[name]
        out[name] = GeneratorInfo(
            name=name,
            kind=gen.kind,
            title=gen.title,
            description=gen.description,
            plugin=plugin.name,
            distribution=plugin.dist,
            version=plugin.version,
            params_schema=gen.params_schema(),
            requirements=gen.requirements.to_dict(),
        )
    rt.registry._infos = out  # type: ignore[attr-defined]
    return out


def live_workers(session: Session, rt: Runtime) -> list[Worker]:
    """Workers online that beat within REEL_WORKER_LOST_AFTER_S, by the database's clock."""
    from reel_host.lifecycle.workers import is_live

    return list(session.scalars(select(Worker).where(is_live(session, rt))))


class QueuePositions:
    """A bounded, cached estimate of queue positions: no ``count(*)`` on every read.

    Per generator, at most once per ``ttl_s``, the (priority, queued time) of its queued
    tasks are read in run order (up to ``limit``); a task's position is then a binary
    search. A burst of submits or status reads costs one query per generator per second
    instead of one per request, which went quadratic on deep queues.
    """

    def __init__(self, ttl_s: float = 1.0, limit: int = 20000) -> None:
        self.ttl_s, self.limit = ttl_s, limit
        self._snapshots: dict[str, tuple[float, list[tuple[int, float]]]] = {}

    def position(self, session: Session, generator: str, priority: int, queued_at: datetime) -> int:
        """1 for the next task the generator's queue runs (an estimate at most ``ttl_s`` old)."""
        at, keys = self._snapshots.get(generator, (0.0, []))
        if time.monotonic() - at >= self.ttl_s:
            rows = session.execute(
                select(Task.priority, Task.queued_at)
                .where(Task.generator == generator, Task.status == "queued")
                .order_by(Task.priority.desc(), Task.queued_at).limit(self.limit)
            ).all()
            keys = [(-p, q.timestamp()) for p, q in rows]
            self._snapshots[generator] = (time.monotonic(), keys)
        return bisect.bisect_left(keys, (-priority, queued_at.timestamp())) + 1


class WorkerView:
    """A short-lived cache of what live workers carry, so submits stay cheap."""

    def __init__(self, ttl_s: float = 1.0) -> None:
        self.ttl_s = ttl_s
        self.positions = QueuePositions(ttl_s)
        self._at = 0.0
        self._counts: dict[str, int] = {}
        self._advertised: dict[str, GeneratorInfo] = {}

    def refresh(self, session: Session, rt: Runtime, *, force: bool = False) -> None:
        if not force and time.monotonic() - self._at < self.ttl_s:
            return
        counts: dict[str, int] = {}
        advertised: dict[str, GeneratorInfo] = {}
        for worker in live_workers(session, rt):
            for gen in worker.generators:
                name = gen["name"] if isinstance(gen, dict) else gen
                counts[name] = counts.get(name, 0) + 1
                if isinstance(gen, dict) and name not in advertised:
                    fields: dict[str, Any] = {k: gen.get(k) for k in GeneratorInfo.__dataclass_fields__}
                    advertised[name] = GeneratorInfo(**fields)
        self._counts, self._advertised, self._at = counts, advertised, time.monotonic()

    def carriers(self, session: Session, rt: Runtime, generator: str) -> int:
        self.refresh(session, rt)
        return self._counts.get(generator, 0)

    def advertised(self, session: Session, rt: Runtime) -> dict[str, GeneratorInfo]:
        self.refresh(session, rt)
        return self._advertised

    def counts(self, session: Session, rt: Runtime) -> dict[str, int]:
        self.refresh(session, rt)
        return self._counts


def all_generators(session: Session, rt: Runtime, view: WorkerView) -> dict[str, GeneratorInfo]:
    """Installed generators, plus those only live workers carry."""
    merged = dict(view.advertised(session, rt))
    merged.update(local_generators(rt))
    return merged
