"""The worker's heartbeat: what it carries, written to the records every few seconds.

A beat is stamped with the database server's clock (never the worker's), and a GPU
probe that fails keeps the last readings instead of skipping the beat, so a healthy
worker is never taken for lost. The worker also runs a reconciler
(:class:`reel_host.lifecycle.dispatch.Reconciler`, as API processes do) that re-queues
tasks of lost workers and sends due or lost messages.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from reel_host import forksafe
from reel_host.lifecycle import workers
from reel_host.lifecycle.dispatch import Reconciler
from reel_host.runtime import Runtime
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
        self.reconciler = Reconciler(rt)

    def start(self) -> None:
        try:
            self.beat()
        except Exception:
            log.exception("first heartbeat failed; retrying every %ss", self.rt.settings.heartbeat_s)
        self._thread.start()

    def mark_ready(self) -> None:
        self.ready = True
        try:
            self.beat()
        except Exception:
            log.exception("heartbeat failed")
        self.reconciler.start()

    def stop(self) -> None:
        self._stop.set()
        self.reconciler.stop()
        try:
            with self.rt.sessions() as session:
                workers.stopped(session, self.worker_id)
        except Exception:
            log.exception("could not record this worker as stopped; it will be taken for lost")

    def _loop(self) -> None:
        while not self._stop.wait(self.rt.settings.heartbeat_s):
            try:
                with forksafe.quiet():
                    self.refresh_gpus()
                    self.beat()
            except Exception as exc:
                log.warning("heartbeat failed (%s: %s); next try in %ss", type(exc).__name__, exc,
                            self.rt.settings.heartbeat_s)

    def refresh_gpus(self) -> None:
        """Read free memory and utilisation again; on a probe error keep the last readings."""
        if not self.advert.get("gpus"):
            return
        try:
            gpus = probe_gpus(self.gpu_indices)
        except Exception as exc:
            log.warning("GPU probe failed (%s); the heartbeat keeps the last readings", exc)
            return
        if gpus:
            self.advert["gpus"] = [g.to_dict() for g in gpus]

    def beat(self) -> None:
        with self.rt.sessions() as session:
            workers.beat(session, self.worker_id, self.advert, self.ready)
