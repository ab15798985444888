"""Gauges computed at scrape time: from the records (API) and from NVML (worker).

The records are the truth across every process and host, so queue depth, oldest
queued age, tasks waiting for a worker, workers by pool and state, the callback
backlog and open breakers are read from them when Prometheus scrapes, instead of
being kept in memory by one process. Every API process reports the same values:
aggregate them with ``max``, not ``sum`` (the shipped rules and dashboard do).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

if TYPE_CHECKING:
    from reel_host.runtime import Runtime

log = logging.getLogger("reel.metrics")

WORKER_STATES = ("starting", "idle", "busy", "lost", "stopped")


def _queue(generator: str) -> str:
    from reel_host.queue.celery_app import queue_for

    return queue_for(generator)


class RecordsCollector(Collector):
    """State gauges from the records; a database that cannot be read gives ``reel_records_up 0``."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily("reel_records_up", "1 if the records could be read for this scrape")
        try:
            families = list(self._families())
        except Exception as exc:
            log.warning("reading the records for /metrics failed: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _families(self) -> Iterator[GaugeMetricFamily]:
        from reel_host.lifecycle.fence import now_of
        from reel_host.lifecycle.workers import is_live
        from reel_host.records.models import CallbackBreaker, CallbackDelivery, Task, Worker

        with self.rt.sessions() as session:
            # the database's clock, as the lifecycle judges liveness by it
            db_now = now_of(session)
            read = db_now if isinstance(db_now, datetime) else session.scalar(select(db_now))
            now = _aware(read or datetime.now(UTC))
            queued = session.execute(
                select(Task.generator, func.count(), func.min(Task.queued_at))
                .where(Task.status == "queued").group_by(Task.generator)
            ).all()
            running = session.execute(
                select(Task.generator, func.count()).where(Task.status == "running").group_by(Task.generator)
            ).all()
            workers = session.execute(select(Worker, is_live(session, self.rt).label("live"))).all()
            backlog = session.execute(
                select(CallbackDelivery.kind, func.count(), func.min(CallbackDelivery.created_at))
                .where(CallbackDelivery.status == "pending").group_by(CallbackDelivery.kind)
            ).all()
            retrying = session.execute(
                select(CallbackDelivery.kind, func.count())
                .where(CallbackDelivery.status == "pending", CallbackDelivery.attempts > 0)
                .group_by(CallbackDelivery.kind)
            ).all()
            breakers = session.scalar(
                select(func.count()).select_from(CallbackBreaker).where(CallbackBreaker.open_until > now)
            )

        depth = GaugeMetricFamily("reel_queue_depth", "Tasks queued (not yet started) per queue", labels=["queue"])
        oldest = GaugeMetricFamily(
            "reel_queue_oldest_age_seconds", "Age of the oldest queued task per queue (from when it was due)",
            labels=["queue"])
        for generator, count, first in queued:
            depth.add_metric([_queue(generator)], count)
            oldest.add_metric([_queue(generator)], max(0.0, (now - _aware(first)).total_seconds()) if first else 0)
        yield depth
        yield oldest

        run = GaugeMetricFamily("reel_tasks_running", "Tasks running now per generator", labels=["generator"])
        for generator, count in running:
            run.add_metric([generator], count)
        yield run

        carried: set[str] = set()
        by_state: dict[tuple[str, str], int] = defaultdict(int)
        for w, live in workers:
            if w.status == "stopped":
                state = "stopped"
            elif not live and w.status != "starting":
                state = "lost"
            elif w.status == "starting":
                state = "starting"
            else:
                state = "busy" if w.current_task_id else "idle"
            if state in ("idle", "busy"):
                carried.update(g["name"] if isinstance(g, dict) else str(g) for g in w.generators or [])
            for s in WORKER_STATES:  # every state of a known pool, so "no idle worker" reads 0
                by_state.setdefault((w.pool, s), 0)
            by_state[(w.pool, state)] += 1
        pools = GaugeMetricFamily("reel_workers", "Workers by pool and state", labels=["pool", "state"])
        for (pool, state), count in sorted(by_state.items()):
            pools.add_metric([pool, state], count)
        yield pools

        waiting = GaugeMetricFamily(
            "reel_tasks_waiting_for_worker", "Queued tasks of generators no live worker carries",
            labels=["generator"])
        for generator, count, _ in queued:
            waiting.add_metric([generator], 0 if generator in carried else count)
        yield waiting

        pending = GaugeMetricFamily(
            "reel_callback_backlog", "Callback deliveries not yet sent (due or waiting to retry)", labels=["kind"])
        oldest_cb = GaugeMetricFamily(
            "reel_callback_backlog_oldest_age_seconds", "Age of the oldest undelivered callback", labels=["kind"])
        for kind, count, first in backlog:
            pending.add_metric([kind], count)
            oldest_cb.add_metric([kind], max(0.0, (now - _aware(first)).total_seconds()) if first else 0)
        yield pending
        yield oldest_cb
        retry = GaugeMetricFamily(
            "reel_callback_retry_backlog", "Undelivered callbacks that failed at least once", labels=["kind"])
        for kind, count in retrying:
            retry.add_metric([kind], count)
        yield retry
        open_ = GaugeMetricFamily("reel_callback_breakers_open", "Destinations whose circuit breaker is open")
        open_.add_metric([], int(breakers or 0))
        yield open_


class GpuCollector(Collector):
    """A worker's GPUs read from NVML at scrape time: memory, utilisation, temperature."""

    def __init__(self, worker_id: str, indices: list[int] | None) -> None:
        self.worker_id = worker_id
        self.indices = indices

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from reel_host.worker.gpus import probe_gpus

        labels = ["worker", "gpu", "gpu_name"]
        used = GaugeMetricFamily("reel_gpu_memory_used_bytes", "GPU memory in use", labels=labels)
        total = GaugeMetricFamily("reel_gpu_memory_total_bytes", "GPU memory in all", labels=labels)
        util = GaugeMetricFamily("reel_gpu_utilization_ratio", "GPU busy fraction (0-1) over NVML's last sample",
                                 labels=labels)
        temp = GaugeMetricFamily("reel_gpu_temperature_celsius", "GPU core temperature", labels=labels)
        for g in probe_gpus(self.indices):
            key = [self.worker_id, str(g.index), g.name]
            total.add_metric(key, g.memory_total_mb * 2**20)
            used.add_metric(key, (g.memory_total_mb - g.memory_free_mb) * 2**20)
            if g.utilization_pct is not None:
                util.add_metric(key, g.utilization_pct / 100)
            if g.temperature_c is not None:
                temp.add_metric(key, g.temperature_c)
        yield from (used, total, util, temp)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
