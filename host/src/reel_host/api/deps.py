"""FastAPI dependencies as ``Annotated`` aliases: runtime, session, credentials."""

from __future__ import annotations

import hmac
import time
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session

from reel_host.errors import Forbidden, Unauthorized
from reel_host.runtime import Runtime
from reel_host.services.auth import project_for_key
from reel_host.services.catalog import WorkerView


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


def get_worker_view(request: Request) -> WorkerView:
    return request.app.state.worker_view  # type: ignore[no-any-return]


def get_session(rt: Annotated[Runtime, Depends(get_runtime)]) -> Iterator[Session]:
    with rt.sessions() as session:
        yield session


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
SessionDep = Annotated[Session, Depends(get_session)]
WorkerViewDep = Annotated[WorkerView, Depends(get_worker_view)]


def bearer_token(authorization: Annotated[str | None, Header(include_in_schema=False)] = None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Authorization must be 'Bearer <api key>'")
    return token.strip()


class KeyCache:
    """Remembers key→project for a few seconds so the hot path skips a query."""

    def __init__(self, ttl_s: float = 10.0) -> None:
        self.ttl_s = ttl_s
        self._entries: dict[str, tuple[float, str]] = {}

    def project(self, session: Session, key: str) -> str | None:
        hit = self._entries.get(key)
        if hit and time.monotonic() - hit[0] < self.ttl_s:
            return hit[1]
        project = project_for_key(session, key)
        if project is not None:
            if len(self._entries) > 10000:
                self._entries.clear()
            self._entries[key] = (time.monotonic(), project)
        return project


def current_project(
    request: Request, session: SessionDep, token: Annotated[str | None, Depends(bearer_token)]
) -> str:
    """The project of the request's API key (401 without a valid one)."""
    if token is None:
        raise Unauthorized("missing API key: send 'Authorization: Bearer <api key>'")
    project = request.app.state.key_cache.project(session, token)
    if project is None:
        raise Unauthorized("invalid or revoked API key")
    return project  # type: ignore[no-any-return]


def require_admin(rt: RuntimeDep, token: Annotated[str | None, Depends(bearer_token)]) -> None:
    admin = rt.settings.admin_key
    if token is None:
        raise Unauthorized("missing admin credential: send 'Authorization: Bearer <REEL_ADMIN_KEY>'")
    if not admin or not hmac.compare_digest(token, admin):
        raise Forbidden("admin credential required (REEL_ADMIN_KEY)")


ProjectDep = Annotated[str, Depends(current_project)]
AdminDep = Annotated[None, Depends(require_admin)]
