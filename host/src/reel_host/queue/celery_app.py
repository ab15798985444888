"""Build the Celery app from settings: broker, routing and long-task safety."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from celery import Celery

from reel_host.queue import fs_transport
from reel_host.settings import Settings

RUN_TASK = "reel.run"
CALLBACK_QUEUE = "reel.callbacks"
QUEUE_PREFIX = "reel.gen."


def queue_for(generator: str) -> str:
    """One queue per generator: ``reel.gen.<generator name>``."""
    return f"{QUEUE_PREFIX}{generator}"


def celery_priority(priority: int) -> int:
    """Reel's 9-runs-first priority as Redis transport priority (0 is served first)."""
    return 9 - priority


def time_limit_for(settings: Settings, generator: str, requirements: dict[str, Any] | None) -> float:
    """The soft time limit of a generator's tasks: operator override, then its own, then the default."""
    if generator in settings.time_limits:
        return float(settings.time_limits[generator])
    own = (requirements or {}).get("time_limit_s")
    return float(own) if own else float(settings.default_time_limit_s)


def visibility_timeout(settings: Settings, limits: Iterable[float] = ()) -> int:
    """How long an unacknowledged message waits before Redis hands it out again.

    Longer than the longest task may run (its hard limit: soft limit plus the grace),
    plus an hour, so a running task is never given to a second worker. Every process
    that consumes from a broker restores *all* overdue messages, so pools sharing a
    broker must agree: set REEL_VISIBILITY_TIMEOUT_S when a generator's limit exceeds
    the default and pools differ.
    """
    if settings.visibility_timeout_s:
        return int(settings.visibility_timeout_s)
    longest = max([settings.default_time_limit_s, *settings.time_limits.values(), *limits])
    return int(longest + settings.cancel_grace_s + 3600)


def make_celery(settings: Settings, limits: Iterable[float] = ()) -> Celery:
    """A Celery app for API (producer) and worker (consumer) processes alike."""
    app = Celery("reel", set_as_current=False)
    visibility = visibility_timeout(settings, limits)
    if settings.embedded_broker:
        folder = (settings.home / "broker").resolve()
        for sub in ("queue", "control", "processed"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        broker_url: str | None = f"{fs_transport.TRANSPORT_NAME}://"  # atomic publish; see fs_transport
        transport_options = {
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "control_folder": str(folder / "control"),
            "processed_folder": str(folder / "processed"),
            "polling_interval": settings.embedded_poll_s,
        }
    else:
        broker_url = settings.broker_url
        transport_options = {
            # a long GPU task must never be handed to a second worker while it runs
            "visibility_timeout": visibility,
            "priority_steps": list(range(10)),
            "sep": ":",
            "queue_order_strategy": "priority",
        }
        if settings.broker_prefix:
            transport_options["global_keyprefix"] = settings.broker_prefix
    app.conf.update(
        broker_url=broker_url,
        broker_transport_options=transport_options,
        broker_connection_retry_on_startup=True,
        broker_pool_limit=10,
        result_backend=None,
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        # a dead pool child's task is failed/requeued after this long (Celery waits 10 s for a
        # result still in the pipe; Reel's runs write their result to the records, so 1 s is plenty)
        worker_lost_wait=1.0,
        task_default_queue="reel.default",
        task_create_missing_queues=True,
        task_serializer="json",
        accept_content=["json"],
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        task_send_sent_event=settings.task_events and not settings.embedded_broker,
        enable_utc=True,
    )
    return app
