"""``reel callbacks``: the process that sends webhooks and CMS updates from the outbox."""

from __future__ import annotations

from typing import Annotated

import typer

from reel_host.observability import process as observe
from reel_host.runtime import Runtime
from reel_host.settings import get_settings


def callbacks(
    concurrency: Annotated[int | None, typer.Option(help="deliveries sent at once (threads)")] = None,
    loglevel: Annotated[str, typer.Option(help="Celery log level")] = "INFO",
    metrics_port: Annotated[int | None, typer.Option(help="serve Prometheus metrics on this port")] = None,
) -> None:
    """Send callbacks: consume queue reel.callbacks and sweep the outbox for due deliveries."""
    from reel_host.callbacks.sender import run_callbacks_worker

    settings = get_settings()
    observe.sender_started(settings, metrics_port, loglevel)
    rt = Runtime(settings)
    rt.migrate()
    run_callbacks_worker(rt, concurrency=concurrency or settings.callback_concurrency, loglevel=loglevel)
