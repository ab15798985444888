"""``reel callbacks``: a Celery worker on queue ``reel.callbacks`` (threads) plus a sweeper.

Kicks sent after each committed event make delivery prompt; the sweeper makes it
durable: on start and every ``REEL_CALLBACK_SWEEP_S`` it finds every task whose next
delivery is due (including ones a dead sender had claimed) and sends them, so a
restart between an event and its delivery loses nothing.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from concurrent.futures import ThreadPoolExecutor

from celery import Celery
from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import aliased

from reel_host.callbacks.delivery import deliver_task
from reel_host.callbacks.outbox import DELIVER_TASK
from reel_host.queue.celery_app import CALLBACK_QUEUE
from reel_host.records.models import CallbackDelivery, utcnow
from reel_host.runtime import Runtime

log = logging.getLogger("reel.callbacks")


def bind_callback_tasks(rt: Runtime) -> Celery:
    """Register ``reel.callbacks.deliver`` on the runtime's Celery app."""
    app = rt.celery

    @app.task(name=DELIVER_TASK, ignore_result=True)
    def deliver(task_id: str) -> int:
        return deliver_task(rt, task_id)

    return app


def due_tasks(rt: Runtime, limit: int = 500) -> list[str]:
    """Tasks whose first pending delivery (per kind) is due and not claimed by a live sender."""
    D, earlier = CallbackDelivery, aliased(CallbackDelivery)
    now = utcnow()
    head = ~exists().where(
        and_(
            earlier.task_id == D.task_id,
            earlier.kind == D.kind,
            earlier.status == "pending",
            earlier.id < D.id,
        )
    )
    query = (
        select(D.task_id)
        .where(
            D.status == "pending",
            D.next_attempt_at <= now,
            or_(D.claimed_until.is_(None), D.claimed_until <= now),
            head,
        )
        .distinct()
        .limit(limit)
    )
    with rt.sessions() as session:
        return list(session.scalars(query))


class Sweeper(threading.Thread):
    """Finds due deliveries on start and periodically; sends them on a small thread pool."""

    def __init__(self, rt: Runtime, threads: int) -> None:
        super().__init__(name="reel-callback-sweeper", daemon=True)
        self.rt = rt
        self.stopping = threading.Event()
        self.pool = ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="reel-sweep")
        self.inflight: set[str] = set()
        self.lock = threading.Lock()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.sweep()
            except Exception:
                log.exception("callback sweep failed")
            self.stopping.wait(self.rt.settings.callback_sweep_s)

    def sweep(self) -> None:
        for task_id in due_tasks(self.rt):
            with self.lock:
                if task_id in self.inflight:
                    continue
                self.inflight.add(task_id)
            self.pool.submit(self._deliver, task_id)

    def _deliver(self, task_id: str) -> None:
        try:
            deliver_task(self.rt, task_id)
        except Exception:
            log.exception("delivering callbacks of %s failed", task_id)
        finally:
            with self.lock:
                self.inflight.discard(task_id)

    def stop(self) -> None:
        self.stopping.set()
        self.pool.shutdown(wait=False, cancel_futures=True)


def run_callbacks_worker(rt: Runtime, *, concurrency: int, loglevel: str = "INFO") -> None:
    """Run the callback sender in this process until it is stopped."""
    app = bind_callback_tasks(rt)
    if rt.settings.embedded_broker:
        app.conf.worker_enable_remote_control = False
    sweeper = Sweeper(rt, threads=max(1, concurrency // 2))
    sweeper.start()
    try:
        app.worker_main(
            [
                "worker",
                "-Q",
                CALLBACK_QUEUE,
                "-n",
                f"callbacks.{os.getpid()}@{socket.gethostname()}",
                "-P",
                "threads",
                "-c",
                str(concurrency),
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-l",
                loglevel,
            ]
        )
    finally:
        sweeper.stop()
