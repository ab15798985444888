"""The one place errors become JSON: ``{"error": {"code", "message", "details"}}``.

Every body goes through :func:`bounded` first: errors often repeat the bad input, and bad
input may be huge (a 900 KB parameter name), unencodable (a lone surrogate) or not JSON
at all (``1e400`` parses to infinity). The answer repeats a short, always-encodable excerpt.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as SATimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from reel_host.errors import ReelError, TooManyRequests

log = logging.getLogger("reel.api")

DATABASE_RETRY_AFTER_S = 2

_HTTP_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    409: "conflict", 413: "payload_too_large", 415: "unsupported_media_type", 422: "invalid_request",
    429: "too_many_requests",
}
MESSAGE_MAX = 1000  # characters of a message
ECHO_MAX = 200  # characters of one echoed value or field name
ITEMS_MAX = 50  # details, list items, dict entries


def bounded(value: Any, limit: int = ECHO_MAX, _depth: int = 0) -> Any:
    """A JSON-safe excerpt of ``value``: short strings without lone surrogates, finite numbers."""
    if isinstance(value, str):
        if any("\ud800" <= ch <= "\udfff" for ch in value):
            value = value.encode("utf-8", "backslashreplace").decode("utf-8")
        if len(value) > limit:
            value = f"{value[:limit]}… ({len(value) - limit} more characters)"
        return value
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, int):
        return value if abs(value) < 10**18 else bounded(str(value), limit)
    if _depth >= 4:
        return "…"
    if isinstance(value, dict):
        return {bounded(str(k), limit): bounded(v, limit, _depth + 1) for k, v in list(value.items())[:ITEMS_MAX]}
    if isinstance(value, (list, tuple)):
        return [bounded(v, limit, _depth + 1) for v in list(value)[:ITEMS_MAX]]
    return bounded(str(value), limit)


def error_response(status: int, code: str, message: str, details: list | None = None,
                   headers: Mapping[str, str] | None = None) -> JSONResponse:
    body = {"error": {"code": code, "message": bounded(message, MESSAGE_MAX),
                      "details": bounded(list(details or [])[:ITEMS_MAX])}}
    return JSONResponse(body, status_code=status, headers=headers)


def _field(loc: tuple) -> str:
    parts = [str(bounded(str(p), 100)) for p in loc if p not in ("body",)]
    return ".".join(parts) or "body"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ReelError)
    async def _reel(_: Request, exc: ReelError) -> JSONResponse:
        headers = None
        if isinstance(exc, TooManyRequests):
            headers = {"Retry-After": str(max(1, math.ceil(exc.retry_after)))}
        return error_response(exc.status, exc.code, exc.message, exc.details, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = []
        for err in exc.errors()[:ITEMS_MAX]:
            item = {"field": _field(tuple(err.get("loc", ()))), "message": bounded(str(err.get("msg", "")))}
            value = err.get("input")
            if isinstance(value, (str, int, float, bool)):
                item["value"] = bounded(value)
            details.append(item)
        message = "; ".join(f"{d['field']}: {d['message']}" for d in details[:5]) or "invalid request"
        return error_response(422, "invalid_request", message, details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        return error_response(exc.status_code, code, str(exc.detail), headers=exc.headers)

    @app.exception_handler(DataError)
    async def _data(_: Request, exc: DataError) -> JSONResponse:
        # The database refused a value (a NUL byte, an integer out of its range): the input's fault.
        log.info("database refused a request value: %s", type(exc.orig).__name__)
        return error_response(400, "bad_request", "a value in the request is out of range or holds characters "
                              "that cannot be stored (such as a NUL byte)")

    @app.exception_handler(OverflowError)
    async def _overflow(_: Request, exc: OverflowError) -> JSONResponse:
        return error_response(400, "bad_request", "a number in the request is out of range")

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    @app.exception_handler(SATimeoutError)
    async def _database_away(_: Request, exc: Exception) -> JSONResponse:
        # the database is down, restarting or out of connections: tell the client when to come back
        log.warning("database unavailable: %s", type(exc).__name__)
        response = error_response(503, "database_unavailable",
                                  "the records database is unavailable; retry shortly")
        response.headers["Retry-After"] = str(DATABASE_RETRY_AFTER_S)
        return response

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return error_response(500, "internal_error", "internal error; see the server log")
