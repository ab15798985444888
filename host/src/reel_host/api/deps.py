"""FastAPI dependencies as ``Annotated`` aliases: runtime, session, credentials."""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from reel_host.errors import Forbidden, TooManyRequests, Unauthorized
from reel_host.records.models import utcnow
from reel_host.runtime import Runtime
from reel_host.services import auth
from reel_host.services.catalog import WorkerView

log = logging.getLogger("reel.api.auth")


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
    """Remembers key → identity for ``ttl_s`` so the hot path skips a query.

    Revocation still takes effect within ``revocation_poll_s`` on every process: at most that
    often, a request first asks the database which keys were revoked since the last look
    (with a margin for clocks between hosts) and forgets them. Expiry is checked on every use.
    Last use is written at most every ``last_use_every_s`` per key and process.
    """

    _SKEW_S = 30.0  # revocations stamped by another host's clock up to this far behind ours are still seen

    def __init__(self, ttl_s: float = 10.0, revocation_poll_s: float = 1.0, last_use_every_s: float = 60.0) -> None:
        self.ttl_s = ttl_s
        self.revocation_poll_s = revocation_poll_s
        self.last_use_every_s = last_use_every_s
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, auth.KeyIdentity]] = {}  # key hash -> (monotonic checked, identity)
        self._last_poll_mono = time.monotonic()
        self._last_poll_wall = utcnow()
        self._last_written: dict[str, float] = {}

    def lookup(self, session: Session, key: str) -> auth.KeyIdentity | None:
        """The live identity of ``key`` or None (unknown, revoked or expired)."""
        digest = auth.hash_key(key)
        self._forget_revoked(session)
        mono = time.monotonic()
        hit = self._entries.get(digest)
        if hit and mono - hit[0] < self.ttl_s:
            identity: auth.KeyIdentity | None = hit[1]
        else:
            identity = auth.lookup_key(session, key)
            with self._lock:
                if identity is None:
                    self._entries.pop(digest, None)
                else:
                    if len(self._entries) > 10000:
                        self._entries.clear()
                    self._entries[digest] = (mono, identity)
        if identity is None or identity.expired():
            return None
        self._note_use(session, identity, mono)
        return identity

    def knows(self, key: str) -> bool:
        """Whether this process holds ``key`` (checked recently: no lookup needed)."""
        hit = self._entries.get(auth.hash_key(key))
        return hit is not None and time.monotonic() - hit[0] < self.ttl_s

    def forget(self, key_hash: str) -> None:
        """Drop a key at once (this process revoked it; the others notice within the poll interval)."""
        with self._lock:
            self._entries.pop(key_hash, None)

    def project(self, session: Session, key: str) -> str | None:
        identity = self.lookup(session, key)
        return identity.project if identity else None

    def _forget_revoked(self, session: Session) -> None:
        mono = time.monotonic()
        if mono - self._last_poll_mono < self.revocation_poll_s or not self._entries:
            if not self._entries:
                self._last_poll_mono, self._last_poll_wall = mono, utcnow()
            return
        wall = utcnow()
        revoked = auth.revoked_since(session, self._last_poll_wall - timedelta(seconds=self._SKEW_S))
        with self._lock:
            for digest in revoked:
                self._entries.pop(digest, None)
            self._last_poll_mono, self._last_poll_wall = mono, wall

    def _note_use(self, session: Session, identity: auth.KeyIdentity, mono: float) -> None:
        last = self._last_written.get(identity.key_id)
        if last is not None and mono - last < self.last_use_every_s:
            return
        self._last_written[identity.key_id] = mono
        if len(self._last_written) > 10000:
            self._last_written.clear()
        try:
            bind = session.get_bind()
            engine = bind.engine if isinstance(bind, Connection) else bind
            with engine.connect() as conn:  # its own short transaction, apart from the request's
                auth.record_use(conn, identity.key_id, utcnow())
                conn.commit()
        except Exception:  # a busy database must not fail the request over a bookkeeping write
            log.warning("could not record the last use of key %s", identity.key_id, exc_info=True)


def client_address(request: Request) -> str:
    """The caller's address (behind a proxy: run uvicorn with --forwarded-allow-ips so this is the client)."""
    return request.client.host if request.client else "unknown"


def _refuse_credential(request: Request, rt: Runtime, error: Exception) -> None:
    """Count a failed credential check against the client's address: past the burst, 429."""
    s = rt.settings
    wait = rt.throttle.hit(f"authfail:{client_address(request)}", s.auth_fail_rate_per_s, s.auth_fail_burst)
    if wait is not None:
        raise TooManyRequests("too many failed credential checks from this address", retry_after=wait,
                              code="auth_throttled")
    raise error


def _refused_for_now(request: Request, rt: Runtime) -> None:
    """An address already over its limit gets 429 before any lookup (no query per try)."""
    wait = rt.throttle.waiting(f"authfail:{client_address(request)}")
    if wait is not None:
        raise TooManyRequests("too many failed credential checks from this address", retry_after=wait,
                              code="auth_throttled")


def key_identity(request: Request, session: Session, token: str | None) -> auth.KeyIdentity:
    """The identity of the request's API key (401 without a valid one, 429 after too many bad ones)."""
    if token is None:
        raise Unauthorized("missing API key: send 'Authorization: Bearer <api key>'")
    rt = get_runtime(request)
    cache: KeyCache = request.app.state.key_cache
    if not cache.knows(token):
        _refused_for_now(request, rt)
    identity = cache.lookup(session, token)
    if identity is None:
        _refuse_credential(request, rt, Unauthorized("invalid, expired or revoked API key"))
    assert identity is not None
    return identity


def current_project(
    request: Request, session: SessionDep, token: Annotated[str | None, Depends(bearer_token)]
) -> str:
    """The project of the request's API key (401 without a valid one)."""
    return key_identity(request, session, token).project


def is_admin_token(rt: Runtime, token: str | None) -> bool:
    """Whether ``token`` is REEL_ADMIN_KEY (constant time; any characters, never an exception)."""
    admin = rt.settings.admin_key
    if not admin or token is None:
        return False
    # digests: compare_digest refuses non-ASCII str, and equal lengths keep the timing flat
    return hmac.compare_digest(hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest(),
                               hashlib.sha256(admin.encode("utf-8", "surrogatepass")).digest())


def require_admin(request: Request, rt: RuntimeDep, token: Annotated[str | None, Depends(bearer_token)]) -> None:
    if token is None:
        raise Unauthorized("missing admin credential: send 'Authorization: Bearer <REEL_ADMIN_KEY>'")
    if is_admin_token(rt, token):
        return
    _refused_for_now(request, rt)
    _refuse_credential(request, rt, Forbidden("admin credential required (REEL_ADMIN_KEY)"))


class Caller:
    """Who is calling: the admin, or a project (through its key)."""

    def __init__(self, admin: bool, project: str | None, key_id: str | None = None) -> None:
        self.admin = admin
        self.project = project
        self.key_id = key_id

    def sees_project(self, project: str) -> bool:
        return self.admin or self.project == project


def current_caller(request: Request, session: SessionDep, rt: RuntimeDep,
                   token: Annotated[str | None, Depends(bearer_token)]) -> Caller:
    """The admin key or any valid project key (401/429 otherwise)."""
    if is_admin_token(rt, token):
        return Caller(admin=True, project=None)
    identity = key_identity(request, session, token)
    return Caller(admin=False, project=identity.project, key_id=identity.key_id)


def optional_admin(rt: RuntimeDep,
                   authorization: Annotated[str | None, Header(include_in_schema=False)] = None) -> bool:
    """True when the request carries the admin key (open routes say more to the admin; never refuses)."""
    scheme, _, token = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and is_admin_token(rt, token.strip())


ProjectDep = Annotated[str, Depends(current_project)]
AdminDep = Annotated[None, Depends(require_admin)]
CallerDep = Annotated[Caller, Depends(current_caller)]
OptionalAdminDep = Annotated[bool, Depends(optional_admin)]
