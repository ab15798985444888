"""The worker's heartbeat: what it carries, written to the records every few seconds."""

from __future__ import annotations

import logging
import os
import socket
import threading
from typing import Any

from sqlalchemy.orm import Session

from reel_host.records.models import Worker, utcnow
from reel_host.runtime import Runtime

log = logging.getLogger("reel.worker.heartbeat")


class Heartbeat:
    """A daemon thread upserting this worker's row until stopped."""

    def __init__(self, rt: Runtime, worker_id: str, advert: dict[str, Any]) -> None:
        self.rt = rt
        self.worker_id = worker_id
        self.advert = advert
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
                self.beat()
            except Exception:
                log.exception("heartbeat failed")

    def beat(self) -> None:
        with self.rt.sessions() as session:
            self._upsert(session)
            session.commit()

    def _upsert(self, session: Session) -> None:
        worker = session.get(Worker, self.worker_id)
        if worker is None:
            worker = Worker(id=self.worker_id, hostname=socket.gethostname(), pid=os.getpid(), started_at=utcnow())
            session.add(worker)
        for key, value in self.advert.items():
            setattr(worker, key, value)
        worker.status = "online" if self.ready else "starting"
        worker.last_heartbeat = utcnow()
