"""Projects and API keys: keys are random, shown once, stored as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import re
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from reel_host.errors import Conflict, InvalidRequest, NotFound
from reel_host.records.models import ApiKey, Project

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


def create_key(session: Session, project: str, name: str | None = None) -> tuple[ApiKey, str]:
    """Create a key for ``project``; return the record and the key (shown only now)."""
    if session.get(Project, project) is None:
        raise NotFound(f"project {project!r} does not exist", code="project_not_found")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    record = ApiKey(project_id=project, key_hash=hash_key(key), prefix=key[:12], name=name)
    session.add(record)
    session.flush()
    return record, key


def project_for_key(session: Session, key: str) -> str | None:
    """The project a live key belongs to, or None."""
    row = session.execute(
        select(ApiKey.project_id).where(ApiKey.key_hash == hash_key(key), ApiKey.revoked_at.is_(None))
    ).first()
    return row[0] if row else None


def key_is_live(session: Session, key: str) -> bool:
    return project_for_key(session, key) is not None
