"""One call per process kind that switches on its logs, log context and metrics endpoint."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reel_host.settings import Settings


def api_started(settings: Settings) -> None:
    """``reel serve`` / ``reel up``: logs in the chosen format (uvicorn is told not to set its own)."""
    from reel_host.observability.celery import install_logging

    install_logging(settings.log_format, settings.log_level)


def process_logging(settings: Settings, loglevel: str) -> None:
    """Logs in the chosen format from the first line on (a worker calls it before loading plugins)."""
    from reel_host.observability.celery import install_logging

    install_logging(settings.log_format, loglevel)


def worker_started(settings: Settings, plan: Any, metrics_port: int | None, loglevel: str) -> None:
    """``reel worker``: logs, each run's log context, and the ``--metrics-port`` endpoint with GPUs."""
    from reel_host.observability.celery import install_logging, install_task_context

    install_logging(settings.log_format, loglevel)
    install_task_context(plan.worker_id)
    port = metrics_port or settings.worker_metrics_port
    if port:
        from reel_host.observability import exporter

        exporter.start(port, settings.metrics_addr, worker_id=plan.worker_id, gpu_indices=plan.gpu_indices)


def sender_started(settings: Settings, metrics_port: int | None, loglevel: str) -> None:
    """``reel callbacks``: logs, each delivery's log context, and its ``--metrics-port`` endpoint."""
    from reel_host.observability.celery import install_logging, install_task_context

    install_logging(settings.log_format, loglevel)
    install_task_context()
    port = metrics_port or settings.callbacks_metrics_port
    if port:
        from reel_host.observability import exporter

        exporter.start(port, settings.metrics_addr)
