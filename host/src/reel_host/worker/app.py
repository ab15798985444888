"""The Celery side of a worker: the ``reel.run`` task and per-process set-up."""

from __future__ import annotations

import logging
import os

from celery import Celery
from celery.signals import worker_process_init

from reel_host.queue.celery_app import RUN_TASK
from reel_host.runtime import Runtime
from reel_host.worker.execute import TaskRunner

log = logging.getLogger("reel.worker")
_state: dict[str, TaskRunner] = {}


def bind_worker_tasks(rt: Runtime, worker_id: str, device: str) -> Celery:
    """Register ``reel.run`` on the runtime's Celery app; the task function stays thin."""
    app = rt.celery

    def runner() -> TaskRunner:
        if "runner" not in _state:
            _state["runner"] = TaskRunner(rt, worker_id, device)
        return _state["runner"]

    @app.task(name=RUN_TASK, bind=True, acks_late=True, reject_on_worker_lost=True)
    def run(self, task_id: str, attempt: int) -> str:  # type: ignore[no-untyped-def]
        return runner().run(task_id, int(attempt))

    @worker_process_init.connect(weak=False)
    def _fresh_connections(**_kwargs) -> None:  # type: ignore[no-untyped-def]
        # a forked child must not share the parent's database connections
        rt.engine.dispose(close=False)
        os.environ["REEL_WORKER_ID"] = worker_id
        if os.environ.get("REEL_WORKER_PRELOAD") == "1":
            runner().preload()

    return app
