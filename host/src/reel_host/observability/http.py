"""The API's operator surface: ``GET /metrics`` and the request middleware.

The middleware (pure ASGI, so Server-Sent Events streams pass through untouched):
- takes the request id from ``X-Request-ID`` (or a W3C ``traceparent``'s trace id) or
  makes one, binds it to the log context and returns it in ``X-Request-ID``;
- counts requests by route *template* (``…/tasks/{task_id}/status``, never the
  raw path, so labels stay bounded), method and status, with a latency histogram;
- keeps ``reel_sse_connections_open`` while an event stream is being sent.

``/metrics`` is open to loopback clients; anyone else needs ``Authorization: Bearer
<REEL_METRICS_TOKEN>`` (no token set: refused), so a deployment chooses a token or a
network rule (a scraper on the same host, a sidecar) and says so.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import re
import time
import uuid
from collections.abc import Iterable
from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reel_host.errors import Forbidden, Unauthorized
from reel_host.observability import logs, metrics, multiproc
from reel_host.observability.collectors import RecordsCollector

log = logging.getLogger("reel.api.access")
router = APIRouter(tags=["operations"])

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:/+=-]{1,128}$")
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")


def request_id_from(headers: dict[str, str]) -> str:
    """The caller's X-Request-ID if it is sane, else a traceparent's trace id, else a new one."""
    given = headers.get("x-request-id", "").strip()
    if given and _REQUEST_ID.match(given):
        return given
    trace = _TRACEPARENT.match(headers.get("traceparent", "").strip().lower())
    if trace and trace.group(1) != "0" * 32:
        return trace.group(1)
    return uuid.uuid4().hex


class ObservabilityMiddleware:
    """Request id, access log line and HTTP metrics for every request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        rid = request_id_from(headers)
        logs.clear_contextvars()
        logs.bind(request_id=rid)
        started = time.perf_counter()
        state: dict[str, Any] = {"status": 500, "sse": False, "route": None}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
                state["route"] = _route(scope)
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
                content_type = dict(message["headers"]).get(b"content-type", b"")
                if content_type.startswith(b"text/event-stream"):
                    state["sse"] = True
                    metrics.sse_opened(state["route"], 1)
                metrics.http_request(state["route"], scope["method"], state["status"],
                                     time.perf_counter() - started)
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = state["route"] or _route(scope)
            if state["route"] is None:  # no response started (client gone, crash)
                metrics.http_request(route, scope["method"], state["status"], time.perf_counter() - started)
            if state["sse"]:
                metrics.sse_opened(route, -1)
            if route != "/metrics":
                log.info("%s %s %s", scope["method"], route, state["status"], extra={
                    "method": scope["method"], "route": route, "status": state["status"],
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1)})
            logs.clear_contextvars()


def _route(scope: Scope) -> str:
    """The matched route's template: the path with each path parameter put back as ``{name}``.

    Built from the path and its parameters rather than the route object, whose ``path``
    lacks the prefix of an included router; an unmatched path is ``unmatched`` (bounded labels).
    """
    if scope.get("route") is None and "endpoint" not in scope:
        return "unmatched"
    params = {str(v): k for k, v in (scope.get("path_params") or {}).items()}
    path = scope.get("root_path", "") + scope.get("path", "")
    return "/".join("{" + params[seg] + "}" if seg in params else seg for seg in path.split("/"))


class _Union:
    """A registry-like view over several collectors (generate_latest needs only ``collect``)."""

    def __init__(self, *sources: Any) -> None:
        self.sources = sources

    def collect(self) -> Iterable[Any]:
        for source in self.sources:
            yield from source.collect()


def exposition(rt: Any) -> bytes:
    """This API process's metrics (or its process group's, in multiprocess mode) plus the records' gauges."""
    path = multiproc.directory()
    own: Any = multiproc.MultiProcessSource(path) if path else REGISTRY
    return generate_latest(_Union(own, RecordsCollector(rt)))  # type: ignore[arg-type]


def _loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host in ("localhost", "testclient")


def check_scraper(request: Request) -> None:
    """REEL_METRICS_TOKEN as a bearer, or a loopback client."""
    token = request.app.state.runtime.settings.metrics_token
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
        return
    if header and token:
        raise Unauthorized("wrong metrics token: send 'Authorization: Bearer <REEL_METRICS_TOKEN>'")
    if _loopback(request.client.host if request.client else None):
        return
    if token:
        raise Unauthorized("missing metrics token: send 'Authorization: Bearer <REEL_METRICS_TOKEN>'")
    raise Forbidden("/metrics is open to loopback clients only; set REEL_METRICS_TOKEN to let a scraper in")


@router.get("/metrics", include_in_schema=True, response_class=Response,
            responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
def read_metrics(request: Request) -> Response:
    """Prometheus text format: this process's counters and the records' state gauges."""
    check_scraper(request)
    return Response(exposition(request.app.state.runtime), media_type=CONTENT_TYPE_LATEST)


__all__ = ["ObservabilityMiddleware", "exposition", "request_id_from", "router"]
