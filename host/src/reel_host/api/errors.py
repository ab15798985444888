"""The one place errors become JSON: ``{"error": {"code", "message", "details"}}``."""

from __future__ import annotations

import logging
import math

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as SATimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from reel_host.errors import ReelError

log = logging.getLogger("reel.api")

DATABASE_RETRY_AFTER_S = 2

_HTTP_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    409: "conflict", 413: "payload_too_large", 415: "unsupported_media_type", 422: "invalid_request",
    429: "too_many_requests",
}


def error_response(status: int, code: str, message: str, details: list | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, "details": details or []}}, status_code=status)


def _field(loc: tuple) -> str:
    parts = [str(p) for p in loc if p not in ("body",)]
    return ".".join(parts) or "body"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ReelError)
    async def _reel(_: Request, exc: ReelError) -> JSONResponse:
        response = error_response(exc.status, exc.code, exc.message, exc.details)
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            response.headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = []
        for err in exc.errors():
            item = {"field": _field(tuple(err.get("loc", ()))), "message": err.get("msg", "")}
            value = err.get("input")
            if isinstance(value, (str, int, float, bool)) and len(str(value)) <= 200:
                item["value"] = value
            details.append(item)
        message = "; ".join(f"{d['field']}: {d['message']}" for d in details) or "invalid request"
        return error_response(422, "invalid_request", message, details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        return error_response(exc.status_code, code, str(exc.detail))

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
