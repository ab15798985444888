"""Log lines for operators: structlog over the standard library, console or JSON.

``REEL_LOG_FORMAT=json`` makes every process (API, worker and its pool children, callback
sender) write one JSON object a line: ``timestamp``, ``level``, ``logger``, ``message``
and whichever apply of the context keys below, bound with contextvars where the work
starts (a request, a task run, a callback delivery) so every line inside carries them,
including lines from the standard ``logging`` loggers Reel, Celery and uvicorn use.
``console`` (the default) renders the same fields readably.
"""

from __future__ import annotations

import logging
import sys
from typing import IO, Any

import structlog
from structlog.contextvars import bind_contextvars, bound_contextvars, clear_contextvars, get_contextvars

CONTEXT_KEYS = ("request_id", "project", "task_id", "attempt", "worker", "generator", "webhook_id")
FORMATS = ("console", "json")

__all__ = [
    "CONTEXT_KEYS", "bind", "bind_contextvars", "bound_contextvars", "clear_contextvars", "configure",
    "current", "request_id",
]


def _shared() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _drop_noise,
    ]


def _drop_noise(_logger: Any, _method: str, event: dict[str, Any]) -> dict[str, Any]:
    event.pop("color_message", None)  # uvicorn's duplicate of the message with ANSI colours
    return event


def configure(fmt: str = "console", level: str | int = "INFO", stream: IO[str] | None = None) -> None:
    """Send every log record of this process through structlog, rendered as ``fmt``.

    Idempotent: later calls replace the root handler (Celery and uvicorn are told not
    to install their own, see ``reel_host.observability.celery`` and ``reel serve``).
    """
    if fmt not in FORMATS:
        raise ValueError(f"REEL_LOG_FORMAT must be one of {', '.join(FORMATS)}, got {fmt!r}")
    shared = _shared()
    renderer: list[Any]
    if fmt == "json":
        renderer = [structlog.processors.format_exc_info, structlog.processors.EventRenamer("message"),
                    structlog.processors.JSONRenderer()]
    else:
        out = stream or sys.stderr
        renderer = [structlog.dev.ConsoleRenderer(colors=hasattr(out, "isatty") and out.isatty())]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *renderer],
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    handler.set_name("reel")
    logging.captureWarnings(True)  # warnings (Celery's root warning...) become log lines too
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper() if isinstance(level, str) else level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "celery", "celery.task", "py.warnings"):
        named = logging.getLogger(name)
        named.handlers = []
        named.propagate = True


def bind(**values: Any) -> None:
    """Add context keys to every later log line of this thread/task (``None`` values are skipped)."""
    bind_contextvars(**{k: v for k, v in values.items() if v is not None})


def current() -> dict[str, Any]:
    return dict(get_contextvars())


def request_id() -> str | None:
    value = get_contextvars().get("request_id")
    return str(value) if value else None
