"""Shed load beyond capacity with a fast 503 instead of queueing without bound.

Every request the API accepts needs a worker thread and, mostly, a database
connection. Past ``REEL_API_MAX_CONCURRENCY`` requests in flight in one process, a new
one is answered at once with 503 and ``Retry-After`` (a CMS or client retries it),
so a burst can never build a queue the process does not recover from. Event streams
and ``Prefer: wait`` requests are long-lived and hold no connection while they wait, so
they are not counted.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Receive, Scope, Send


class OverloadGuard:
    """A pure ASGI middleware counting requests in flight (one event loop: no lock needed)."""

    def __init__(self, app: ASGIApp, max_in_flight: int, retry_after_s: int = 1) -> None:
        self.app = app
        self.max_in_flight = max_in_flight
        self.retry_after_s = retry_after_s
        self.in_flight = 0
        self.shed = 0  # answered 503 since start (tests and metrics read it)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _exempt(scope):
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.max_in_flight:
            self.shed += 1
            await self._refuse(send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1

    async def _refuse(self, send: Send) -> None:
        body = json.dumps({"error": {
            "code": "overloaded",
            "message": f"the API is at capacity ({self.max_in_flight} requests in flight); retry shortly",
            "details": []}}).encode()
        await send({"type": "http.response.start", "status": 503, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(self.retry_after_s).encode())]})
        await send({"type": "http.response.body", "body": body})


def _exempt(scope: Scope) -> bool:
    """Long waits hold no thread and no connection while they wait: they are not counted."""
    path: str = scope.get("path", "")
    if path.endswith("/events") or path.endswith("/health"):
        return True
    return any(name == b"prefer" and b"wait" in value.lower() for name, value in scope.get("headers") or ())
