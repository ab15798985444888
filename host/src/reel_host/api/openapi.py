"""The OpenAPI document tells the truth: every status an operation can answer, with the error envelope.

FastAPI documents the success answer and a 422 of its own shape; the rest (401 without a
key, 404 for another project's task, 413 over the body limit, 429 with ``Retry-After``...)
is derived here from what each route depends on, so a generated client (the console's,
a CMS developer's) sees every answer it can get.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi import routing as fastapi_routing
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from reel_host.api import deps
from reel_host.api.calls import api_call
from reel_host.schemas.errors import ErrorEnvelope

_DESCRIPTIONS = {
    "400": "bad request: a NUL byte in the path or query, a value out of range",
    "401": "no API key, or one that is unknown, expired or revoked",
    "403": "the admin key is required, or a console login lacks its CSRF token or the role the operation needs",
    "404": "not found (another project's resources are not found either)",
    "409": "conflict with the resource's state",
    "413": "request body over REEL_MAX_BODY_BYTES",
    "422": "the request does not validate; `details` names each field",
    "429": "too many requests (failed credential checks from this address, or a limit); see Retry-After",
    "503": "overloaded (REEL_API_MAX_CONCURRENCY) or the database is unavailable, with Retry-After; "
           "on submit also: no live worker can take it (REEL_REFUSE_WITHOUT_WORKER)",
}
_NAMES_A_PROJECT = {"submit_task", "submit_task_batch"}  # a body's `project` the caller cannot see is 404
_ACCOUNT_PATHS = ("/auth/", "/members", "/invitations", "/ops/")
_CONFLICTS = {"submit_task", "cancel_task", "retry_task", "redeliver_task_callback", "create_project"}


def _calls(dependant: Any) -> set[Callable[..., Any]]:
    found = {dependant.call} if dependant.call is not None else set()
    for sub in dependant.dependencies:
        found |= _calls(sub)
    return found


def _auth(route: Any) -> str | None:
    from reel_host.api import access

    calls = _calls(route.dependant)
    if deps.require_admin in calls:
        return "admin"
    if deps.current_caller in calls:
        return "caller"
    # a project key or a console login (session cookie)
    key_or_login = {access.principal, access.access_call, access.task_call, access.project_call}
    if deps.current_project in calls or api_call in calls or calls & key_or_login \
            or any(getattr(c, "__name__", "") == "_events_project" for c in calls):
        return "key"
    if deps.optional_admin in calls:
        return "optional"
    return None


def _statuses(route: Any, auth: str | None) -> set[str]:
    statuses = {"400", "422", "503"}  # 503: over REEL_API_MAX_CONCURRENCY, or the database is unavailable
    if route.body_field is not None:
        statuses.add("413")
    if auth in ("admin", "caller", "key"):
        statuses |= {"401", "429"}
    if auth == "admin":
        statuses.add("403")
    if "{" in route.path_format or route.name in _NAMES_A_PROJECT:
        statuses.add("404")
    if route.name in _CONFLICTS:
        statuses.add("409")
    if auth == "key":
        statuses.add("403")  # a console login: CSRF token missing, or a role the operation needs
    if any(part in route.path_format for part in _ACCOUNT_PATHS):
        # console accounts: wrong credentials, throttled logins, unknown or used links, taken emails
        statuses |= {"401", "403", "404", "409", "429"}
    return statuses


def _api_routes(app: FastAPI) -> list[Any]:
    """Every API route with its full path (FastAPI >= 0.16x keeps included routers lazily)."""
    iter_contexts = getattr(fastapi_routing, "iter_route_contexts", None)
    if iter_contexts is None:
        return [r for r in app.routes if isinstance(r, APIRoute)]
    return [rc for rc in iter_contexts(app.routes) if isinstance(rc.original_route, APIRoute)]


def install_openapi(app: FastAPI) -> None:
    """Replace ``app.openapi`` with one that adds the error answers, the bearer scheme and header bounds."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        spec = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        components = spec.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        envelope = ErrorEnvelope.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(envelope.pop("$defs", {}))
        schemas["ErrorEnvelope"] = envelope
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        from reel_host.api.access import SESSION_COOKIE

        components["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer",
                       "description": "a project API key (`reel_...`), or REEL_ADMIN_KEY for admin operations"},
            "session": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE,
                        "description": "a console login (unsafe methods also send X-CSRF-Token)"},
        }
        error_ref = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}}
        for route in _api_routes(app):
            if not route.include_in_schema:
                continue
            for method in route.methods:
                op = spec["paths"].get(route.path_format, {}).get(method.lower())
                if op is None:
                    continue
                auth = _auth(route)
                responses = op.setdefault("responses", {})
                for status in sorted(_statuses(route, auth)):
                    answer = responses.setdefault(status, {"description": _DESCRIPTIONS[status]})
                    if "content" not in answer or status == "422":  # FastAPI's 422 shape is not ours
                        answer["content"] = error_ref
                    if status in ("429", "503") and route.name != "read_health":
                        answer["headers"] = {"Retry-After": {"description": "seconds to wait",
                                                             "schema": {"type": "integer", "minimum": 1}}}
                if auth == "key":
                    op["security"] = [{"bearer": []}, {"session": []}]
                    if route.name == "stream_task_events":
                        op["security"].append({})  # or ?token= from /events/token
                elif auth in ("admin", "caller"):
                    op["security"] = [{"bearer": []}]
                elif auth == "optional":
                    op["security"] = [{}, {"bearer": []}]
                else:
                    op.pop("security", None)
                for param in op.get("parameters", []):
                    if param.get("in") == "header" and param.get("name") == "Idempotency-Key":
                        param["schema"] = {"type": "string", "minLength": 1, "maxLength": 255,
                                           "title": "Idempotency-Key"}
                        param["description"] = ("1 to 255 characters; a retry with the same key and body "
                                                "answers the first task (kept REEL_IDEMPOTENCY_TTL_S)")
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]
