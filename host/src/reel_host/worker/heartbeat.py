"""The worker's heartbeat: what it carries, written to the records every few seconds.

Each beat also refreshes the GPU readings (free memory, utilisation) and sweeps for
tasks left ``running`` by workers that stopped heartbeating
(:func:`reel_host.services.recovery.requeue_lost_tasks`), so lost work is re-queued
as long as any worker is alive.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from typing import Any

from sqlalchemy.orm import Session

from reel_host.records.models import Worker, utcnow
from reel_host.runtime import Runtime
from reel_host.services.recovery import requeue_lost_tasks
from reel_host.worker.gpus import probe_gpus

log = logging.getLogger("reel.worker.heartbeat")


class Heartbeat:
    """A daemon thread upserting this worker's row until stopped."""

    def __init__(
        self, rt: Runtime, worker_id: str, advert: dict[str, Any], gpu_indices: list[int] | None = None
    ) -> None:
        self.rt = rt
        self.worker_id = worker_id
        self.advert = dict(advert)
        self.gpu_indices = gpu_indices
        self.ready = False  # "starting" until Celery consumes its queues
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="reel-heartbeat", daemon=True)

    def start(self) -> None:
        self.beat()
        self._thread.start()

    def mark_ready(self) -> None:
        self.ready = True
        self.beat()

    def stop(self) -> None:
        self._stop.set()
        with self.rt.sessions() as session:
            worker = session.get(Worker, self.worker_id)
            if worker is not None:
                worker.status, worker.current_task_id = "stopped", None
                session.commit()

    def _loop(self) -> None:
        while not self._stop.wait(self.rt.settings.heartbeat_s):
            try:
                self.refresh_gpus()
                self.beat()
            except Exception:
                log.exception("heartbeat failed")
            if self.ready:
                try:
                    requeue_lost_tasks(self.rt)
                except Exception:
                    log.exception("sweeping tasks of lost workers failed")

    def refresh_gpus(self) -> None:
        """Read free memory and utilisation again (a CPU worker stays one)."""
        if self.advert.get("gpus"):
            gpus = probe_gpus(self.gpu_indices)
            if gpus:
                self.advert["gpus"] = [g.to_dict() for g in gpus]

    def beat(self) -> None:
        with self.rt.sessions() as session:
            self._upsert(session)
            session.commit()

    def _upsert(self, session: Session) -> None:
        worker = session.get(Worker, self.worker_id)
        if worker is None:
            worker = Worker(
                id=self.worker_id, hostname=socket.gethostname(), pid=os.getpid(), started_at=utcnow()
            )
            session.add(worker)
        for key, value in self.advert.items():
            setattr(worker, key, value)
        worker.status = "online" if self.ready else "starting"
        worker.last_heartbeat = utcnow()
