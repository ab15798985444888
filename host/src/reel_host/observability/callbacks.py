"""The callback outbox's and sender's one-line hooks: request id, log context, metrics.

The request id that was bound when a task event was recorded (a submit's, or the one
the worker got in the message headers) is stored in the delivery's ``state``; the
sender binds it with the delivery's ``webhook_id`` for its log lines and sends it to
the receiver as ``X-Request-ID``, so one id follows a task from the CMS's request to
the webhook it receives.
"""

from __future__ import annotations

import logging
from typing import Any

from reel_host.observability import logs, metrics

log = logging.getLogger("reel.callbacks.delivery")


def delivery_state() -> dict[str, Any]:
    """The initial ``state`` of a delivery being recorded now."""
    rid = logs.request_id()
    return {"request_id": rid} if rid else {}


def bind_delivery(delivery: Any) -> None:
    """Log context of one delivery attempt (replaces the thread's previous one)."""
    logs.clear_contextvars()
    logs.bind(webhook_id=delivery.msg_id, task_id=delivery.task_id, project=delivery.project_id,
              request_id=(delivery.state or {}).get("request_id"))


def request_headers(state: dict[str, Any] | None) -> dict[str, str]:
    rid = (state or {}).get("request_id")
    return {"x-request-id": str(rid)} if rid else {}


def settled(kind: str, event: str, outcome: str, status_code: int | None, attempt: int) -> None:
    """Count the attempt's outcome and log it (inside the delivery's bound context)."""
    metrics.callback_settled(kind, outcome)
    log.info("callback %s %s: %s", kind, event, outcome,
             extra={"kind": kind, "callback_event": event, "outcome": outcome, "status_code": status_code,
                    "delivery_attempt": attempt})
