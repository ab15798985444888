"""Edge checks before any route runs: body size (``REEL_MAX_BODY_BYTES``) and values no route can store.

Pure ASGI middlewares, so a refused request costs neither a body read nor a database query.
"""

from __future__ import annotations

import json
from urllib.parse import unquote_to_bytes

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def _envelope(status: int, code: str, message: str) -> tuple[int, bytes]:
    return status, json.dumps({"error": {"code": code, "message": message, "details": []}}).encode()


async def _send_json(send: Send, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    """Checks Content-Length, then counts streamed (chunked) bytes: over the limit is 413 either way."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _send_json(send, *self._refusal())
            return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    # an HTTPException: FastAPI re-raises it as is (any other error reading the body
                    # it turns into a 400), and the error handler answers 413 with the envelope
                    raise _TooLarge(413, f"request body is over the limit of {self.max_bytes} bytes")
            return message

        async def watch_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, watch_send)
        except _TooLarge:
            if not started:  # read outside a route (no error handler ran): answer here
                await _send_json(send, *self._refusal())

    def _refusal(self) -> tuple[int, bytes]:
        return _envelope(413, "payload_too_large", f"request body is over the limit of {self.max_bytes} bytes")


class _TooLarge(HTTPException):
    pass


class InputSanityMiddleware:
    """Refuses a NUL byte (raw or ``%00``) in the path or query with 400 before it can reach the database.

    No route accepts NUL in an identifier or filter, and PostgreSQL refuses it in text,
    so it is refused at the edge for every route at once.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raw_path = scope.get("raw_path") or scope.get("path", "").encode("utf-8", "surrogateescape")
            query = scope.get("query_string") or b""
            if b"\x00" in unquote_to_bytes(raw_path) or b"\x00" in unquote_to_bytes(query.replace(b"+", b" ")):
                await _send_json(send, *_envelope(
                    400, "bad_request", "the path or query holds a NUL byte (%00), which no Reel value may contain"))
                return
        await self.app(scope, receive, send)
