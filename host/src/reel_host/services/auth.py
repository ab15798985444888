"""Projects and API keys: keys are random, shown once, stored as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select, update
from sqlalchemy.orm import Session

from reel_host.errors import Conflict, InvalidRequest, NotFound
from reel_host.records.models import ApiKey, Project, utcnow

KEY_PREFIX = "reel_"
PROJECT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


def hash_key(key: str) -> str:
    # API keys carry 256 bits of randomness, so a fast hash is enough (no brute force).
    return hashlib.sha256(key.encode()).hexdigest()


def create_project(session: Session, name: str) -> Project:
    if not PROJECT_NAME.match(name):
        raise InvalidRequest(
            f"project name must be lowercase letters, digits, '-' or '_' (max 63), got {name!r}",
            details=[{"field": "name", "message": "invalid project name"}],
        )
    if session.get(Project, name) is not None:
        raise Conflict(f"project {name!r} already exists", code="project_exists")
    project = Project(id=name)
    session.add(project)
    session.flush()
    return project


def ensure_project(session: Session, name: str) -> Project:
    return session.get(Project, name) or create_project(session, name)


def create_key(session: Session, project: str, name: str | None = None,
               expires_at: datetime | None = None) -> tuple[ApiKey, str]:
    """Create a key for ``project``; return the record and the key (shown only now)."""
    if session.get(Project, project) is None:
        raise NotFound(f"project {project!r} does not exist", code="project_not_found")
    if expires_at is not None and expires_at <= utcnow():
        raise InvalidRequest(f"expires_at must be in the future, got {expires_at.isoformat()}",
                             details=[{"field": "expires_at", "message": "must be in the future"}])
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    record = ApiKey(project_id=project, key_hash=hash_key(key), prefix=key[:12], name=name, expires_at=expires_at)
    session.add(record)
    session.flush()
    return record, key


@dataclass(frozen=True)
class KeyIdentity:
    """What a live key stands for: its project, its id, when it stops working."""

    project: str
    key_id: str
    expires_at: datetime | None

    def expired(self, now: datetime | None = None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or utcnow())


def lookup_key(session: Session, key: str) -> KeyIdentity | None:
    """The identity of a live (not revoked, not expired) key, or None."""
    row = session.execute(
        select(ApiKey.project_id, ApiKey.id, ApiKey.expires_at)
        .where(ApiKey.key_hash == hash_key(key), ApiKey.revoked_at.is_(None))
    ).first()
    if row is None:
        return None
    identity = KeyIdentity(row[0], row[1], row[2])
    return None if identity.expired() else identity


def project_for_key(session: Session, key: str) -> str | None:
    """The project a live key belongs to, or None."""
    identity = lookup_key(session, key)
    return identity.project if identity else None


def list_keys(session: Session, project: str) -> list[ApiKey]:
    """A project's keys, revoked ones included, oldest first."""
    if session.get(Project, project) is None:
        raise NotFound(f"project {project!r} not found", code="project_not_found")
    return list(session.scalars(select(ApiKey).where(ApiKey.project_id == project)
                                .order_by(ApiKey.created_at, ApiKey.id)))


def revoke_key(session: Session, key_id: str, project: str | None = None) -> ApiKey:
    """Revoke a key (idempotent); with ``project``, only a key of that project (else 404).

    Every API process drops it from its key cache within ``REEL_KEY_REVOCATION_POLL_S``.
    """
    record = session.get(ApiKey, key_id)
    if record is None or (project is not None and record.project_id != project):
        raise NotFound(f"key {key_id!r} not found", code="key_not_found")
    if record.revoked_at is None:
        record.revoked_at = utcnow()
        session.flush()
    return record


def revoked_since(session: Session, since: datetime) -> list[str]:
    """Hashes of keys revoked at or after ``since`` (what a key cache must forget)."""
    return list(session.scalars(select(ApiKey.key_hash).where(ApiKey.revoked_at >= since)))


def record_use(session: Session | Connection, key_id: str, when: datetime) -> None:
    """Note a key's last use (callers write this at most once a minute per key, not per request)."""
    session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=when))


def key_is_live(session: Session, key: str) -> bool:
    return project_for_key(session, key) is not None
