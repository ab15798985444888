"""Errors the host raises, each with its HTTP status and stable code.

    ReelError (500 internal_error)
    ├── BadRequest (400 bad_request)
    ├── Unauthorized (401 unauthorized)
    ├── Forbidden (403 forbidden)
    ├── NotFound (404 not_found)
    ├── Conflict (409 conflict)
    │   └── IdempotencyMismatch (409 idempotency_key_reused)
    ├── PayloadTooLarge (413 payload_too_large)
    ├── InvalidRequest (422 invalid_request)
    │   ├── UnknownGenerator (422 unknown_generator)
    │   └── InvalidParams (422 invalid_params)
    ├── TooManyRequests (429 too_many_requests, with ``retry_after`` seconds)
    └── ServiceUnavailable (503 unavailable)
        └── NoWorker (503 no_worker)

One exception handler (``reel_host.api.errors``) turns them into
``{"error": {"code", "message", "details"}}``; routes never build error bodies.
"""

from __future__ import annotations

from typing import Any


class ReelError(Exception):
    status = 500
    code = "internal_error"

    def __init__(self, message: str, *, details: list[dict[str, Any]] | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or []
        if code:
            self.code = code

    def to_body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class BadRequest(ReelError):
    status, code = 400, "bad_request"


class Unauthorized(ReelError):
    status, code = 401, "unauthorized"


class Forbidden(ReelError):
    status, code = 403, "forbidden"


class NotFound(ReelError):
    status, code = 404, "not_found"


class Conflict(ReelError):
    status, code = 409, "conflict"


class IdempotencyMismatch(Conflict):
    code = "idempotency_key_reused"


class PayloadTooLarge(ReelError):
    status, code = 413, "payload_too_large"


class InvalidRequest(ReelError):
    status, code = 422, "invalid_request"


class UnknownGenerator(InvalidRequest):
    code = "unknown_generator"


class InvalidParams(InvalidRequest):
    code = "invalid_params"


class TooManyRequests(ReelError):
    """Over a limit (``reel_host.throttle``); the handler adds ``Retry-After``."""

    status, code = 429, "too_many_requests"

    def __init__(self, message: str, retry_after: float, *, code: str | None = None,
                 details: list[dict[str, Any]] | None = None):
        super().__init__(message, details=details, code=code)
        self.retry_after = max(0.0, float(retry_after))


class ServiceUnavailable(ReelError):
    status, code = 503, "unavailable"


class NoWorker(ServiceUnavailable):
    code = "no_worker"
