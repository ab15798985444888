"""Celery's side of the log context: the request id travels in message headers.

- Publishing (API, worker re-queueing a retry): ``before_task_publish`` copies the
  bound ``request_id`` and ``project`` into the message headers ``reel_request_id`` and
  ``reel_project``.
- Running (pool child, callback sender thread): ``task_prerun`` binds them, with the
  task id, attempt, generator and worker, for every log line of the run (and the
  callbacks outbox stores the request id with each delivery it records).
- Celery does not install its own log handlers: ``setup_logging`` hands it to ``logs``.

Connected by explicit calls from the processes that want them (``install_*``), with
dispatch uids so a second call is a no-op.
"""

from __future__ import annotations

import logging
from typing import Any

from celery.signals import before_task_publish, setup_logging, task_postrun, task_prerun

from reel_host.observability import logs

log = logging.getLogger("reel.worker.run")
HEADERS = {"request_id": "reel_request_id", "project": "reel_project"}
_process: dict[str, str | None] = {"worker": None}  # set by install_task_context; pool children inherit it


def _before_publish(headers: dict[str, Any] | None = None, **_: Any) -> None:
    if headers is None:
        return
    context = logs.current()
    for key, header in HEADERS.items():
        if context.get(key) and header not in headers:
            headers[header] = str(context[key])


def _header(task: Any, name: str) -> Any:
    request = getattr(task, "request", None)
    if request is None:
        return None
    value = getattr(request, name, None)
    if value is None and isinstance(getattr(request, "headers", None), dict):
        value = request.headers.get(name)
    return value


def _prerun(task: Any = None, args: Any = None, kwargs: Any = None, **_: Any) -> None:
    from reel_host.queue.celery_app import RUN_TASK

    logs.clear_contextvars()
    logs.bind(request_id=_header(task, HEADERS["request_id"]), project=_header(task, HEADERS["project"]),
              worker=_process["worker"])
    args, kwargs = list(args or []), dict(kwargs or {})
    if getattr(task, "name", None) == RUN_TASK and len(args) >= 2:
        logs.bind(task_id=args[0], attempt=args[1], generator=kwargs.get("generator"))
        log.info("task run starting")
    elif args:
        logs.bind(task_id=args[0])


def _postrun(task: Any = None, retval: Any = None, state: Any = None, **_: Any) -> None:
    from reel_host.queue.celery_app import RUN_TASK

    if getattr(task, "name", None) == RUN_TASK:
        log.info("task run ended: %s", retval, extra={"outcome": str(retval), "celery_state": state})
    logs.clear_contextvars()


def install_publish_headers() -> None:
    """Carry the bound request id and project in the headers of every message this process sends."""
    before_task_publish.connect(_before_publish, weak=False, dispatch_uid="reel-request-id-publish")


def install_task_context(worker_id: str | None = None) -> None:
    """Bind each task run's ids (and ``worker_id``) to the log context (worker and sender processes)."""
    _process["worker"] = worker_id
    install_publish_headers()
    task_prerun.connect(_prerun, weak=False, dispatch_uid="reel-task-context-prerun")
    task_postrun.connect(_postrun, weak=False, dispatch_uid="reel-task-context-postrun")


def install_logging(fmt: str, default_level: str = "INFO") -> None:
    """Configure logs now and keep Celery from replacing the handlers when its worker starts."""
    logs.configure(fmt, default_level)

    def _setup(loglevel: Any = None, **_: Any) -> None:
        logs.configure(fmt, loglevel or default_level)

    setup_logging.connect(_setup, weak=False, dispatch_uid="reel-setup-logging")
