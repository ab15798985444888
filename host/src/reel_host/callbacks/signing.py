"""Standard Webhooks signing: per-project ``whsec_`` secrets, rotation with a grace period."""

from __future__ import annotations

import base64
import secrets
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from standardwebhooks import Webhook

from reel_host.errors import InvalidRequest
from reel_host.records.models import CallbackSettings, Project, utcnow
from reel_host.sealing import Sealer


def new_secret() -> str:
    """A fresh ``whsec_`` secret: 32 random bytes, base64 (what Standard Webhooks libraries read)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def check_secret(secret: str) -> str:
    try:
        raw = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except ValueError:
        raw = b""
    if not secret.startswith("whsec_") or not 24 <= len(raw) <= 64:
        raise InvalidRequest(
            "secret must be 'whsec_' followed by base64 of 24 to 64 random bytes",
            code="bad_secret",
            details=[{"field": "secret", "message": "not a whsec_ secret"}],
        )
    return secret


def callback_settings(session: Session, project: str, sealer: Sealer, *,
                      create: bool = True) -> CallbackSettings | None:
    """The project's callback settings, made (with a sealed signing secret) on first use."""
    row = session.get(CallbackSettings, project)
    if row is not None or not create:
        if row is not None and not row.signing_secret and create:
            row.signing_secret = sealer.seal(new_secret())
            session.flush()
        return row
    try:
        with session.begin_nested():
            row = CallbackSettings(project_id=project, signing_secret=sealer.seal(new_secret()), payload_fields={})
            session.add(row)
    except IntegrityError:  # another process made it first
        row = session.get(CallbackSettings, project)
    return row


def active_secrets(row: CallbackSettings, sealer: Sealer, now: datetime | None = None) -> list[str]:
    """The secrets that sign now (opened): the current one and, during its grace period, the previous one."""
    now = now or utcnow()
    out = [sealer.open(row.signing_secret) or ""] if row.signing_secret else []
    if row.previous_secret and row.previous_until and row.previous_until > now:
        out.append(sealer.open(row.previous_secret) or "")
    return out


def rotate(session: Session, project: str, grace_s: float, sealer: Sealer,
           secret: str | None = None) -> CallbackSettings:
    """Make a new current secret; the old one keeps signing (a second signature) for ``grace_s``."""
    if session.get(Project, project) is None:
        from reel_host.errors import NotFound

        raise NotFound(f"project {project!r} does not exist", code="project_not_found")
    row = callback_settings(session, project, sealer)
    assert row is not None
    now = utcnow()
    row.previous_secret, row.previous_until = row.signing_secret, now + timedelta(seconds=grace_s)
    row.signing_secret = sealer.seal(check_secret(secret) if secret else new_secret())
    row.rotated_at = row.updated_at = now
    session.flush()
    return row


def signature_headers(msg_id: str, body: str, secrets_: list[str], when: datetime) -> dict[str, str]:
    """``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` (one ``v1,`` signature per secret)."""
    signatures = " ".join(Webhook(s).sign(msg_id, when, body) for s in secrets_)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": signatures,
    }
