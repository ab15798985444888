"""The Celery side of a worker: the ``reel.run`` task and per-process set-up."""

from __future__ import annotations

import logging
import os

from celery import Celery
from celery.signals import worker_process_init

from reel_host.queue.celery_app import RUN_TASK, time_limit_for
from reel_host.runtime import Runtime
from reel_host.worker.execute import TaskRunner, run_message
from reel_host.worker.requests import make_request_class

log = logging.getLogger("reel.worker")
_state: dict[str, TaskRunner] = {}


def soft_limit_resolver(rt: Runtime):  # type: ignore[no-untyped-def]
    """generator name -> its soft time limit in seconds, from the plugins this worker carries."""

    def soft_limit_of(generator: str | None) -> float:
        gen = rt.registry.get(generator) if generator else None
        return time_limit_for(rt.settings, generator or "", gen.requirements.to_dict() if gen else None)

    return soft_limit_of


def bind_worker_tasks(rt: Runtime, worker_id: str, device: str, taken: list[str] | None = None) -> Celery:
    """Register ``reel.run`` on the runtime's Celery app; the task function stays thin.

    ``taken``: the generators this worker consumes (``--preload`` loads only theirs).
    """
    app = rt.celery
    soft_limit_of = soft_limit_resolver(rt)

    def runner() -> TaskRunner:
        if "runner" not in _state:
            _state["runner"] = TaskRunner(rt, worker_id, device, soft_limit_of)
        return _state["runner"]

    @app.task(
        name=RUN_TASK,
        bind=True,
        acks_late=True,
        reject_on_worker_lost=True,
        acks_on_timeout=True,
        Request=make_request_class(rt, worker_id, soft_limit_of),
    )
    def run(self, task_id: str, attempt: int, generator: str | None = None) -> str:  # type: ignore[no-untyped-def]
        return run_message(runner(), task_id, int(attempt))

    @worker_process_init.connect(weak=False)
    def _fresh_connections(**_kwargs) -> None:  # type: ignore[no-untyped-def]
        # a forked child must not share the parent's database connections
        rt.engine.dispose(close=False)
        os.environ["REEL_WORKER_ID"] = worker_id
        if os.environ.get("REEL_WORKER_PRELOAD") == "1":
            runner().preload(taken)

    return app
