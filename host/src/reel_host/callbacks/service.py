"""What the REST API reads and changes: deliveries, redelivery, secrets, Payload settings."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from reel_host.callbacks import signing
from reel_host.callbacks.outbox import kick
from reel_host.callbacks.payload import field_names
from reel_host.errors import Conflict, NotFound
from reel_host.records.models import (
    CallbackAttempt,
    CallbackDelivery,
    CallbackSettings,
    Project,
    Task,
    utcnow,
)
from reel_host.runtime import Runtime
from reel_host.schemas.callbacks import (
    CallbackAttemptPublic,
    CallbackConfigPublic,
    CallbackDeliveriesPublic,
    CallbackDeliveryPublic,
    PayloadSettingsPublic,
    PayloadSettingsUpdate,
    SigningSecretPublic,
)
from reel_host.sealing import Sealer


def list_deliveries(session: Session, task: Task) -> CallbackDeliveriesPublic:
    rows = list(
        session.scalars(
            select(CallbackDelivery).where(CallbackDelivery.task_id == task.id).order_by(CallbackDelivery.id)
        )
    )
    attempts: dict[int, list[CallbackAttempt]] = {}
    if rows:
        for a in session.scalars(
            select(CallbackAttempt)
            .where(CallbackAttempt.delivery_id.in_([r.id for r in rows]))
            .order_by(CallbackAttempt.id)
        ):
            attempts.setdefault(a.delivery_id, []).append(a)
    return CallbackDeliveriesPublic(
        data=[
            CallbackDeliveryPublic(
                id=r.msg_id,
                kind=r.kind,  # type: ignore[arg-type]
                event=r.event,
                url=r.url,
                status=r.status,  # type: ignore[arg-type]
                next_attempt_at=r.next_attempt_at if r.status == "pending" else None,
                last_error=r.last_error,
                created_at=r.created_at,
                delivered_at=r.delivered_at,
                attempts=[
                    CallbackAttemptPublic(
                        number=a.number,
                        started_at=a.started_at,
                        duration_ms=a.duration_ms,
                        status_code=a.status_code,
                        outcome=a.outcome,
                        error=a.error,
                    )
                    for a in attempts.get(r.id, [])
                ],
            )
            for r in rows
        ]
    )


def redeliver(session: Session, rt: Runtime, task: Task, delivery_id: str) -> CallbackDeliveryPublic:
    """Send a delivery again (same ``webhook-id``), with a fresh retry schedule."""
    row = session.scalars(
        select(CallbackDelivery).where(
            CallbackDelivery.task_id == task.id, CallbackDelivery.msg_id == delivery_id
        )
    ).first()
    if row is None:
        raise NotFound(f"delivery {delivery_id!r} of task {task.id!r} not found", code="delivery_not_found")
    now = utcnow()
    if row.status == "pending" and row.claimed_until is not None and row.claimed_until > now:
        raise Conflict(f"delivery {delivery_id!r} is being sent right now", code="delivery_in_flight")
    row.status, row.next_attempt_at, row.claimed_until, row.updated_at = "pending", now, None, now
    row.state = {**(row.state or {}), "schedule_base": row.attempts}
    session.commit()
    kick(rt, task.id)
    return next(d for d in list_deliveries(session, task).data if d.id == delivery_id)


def _project(session: Session, project: str) -> None:
    if session.get(Project, project) is None:
        raise NotFound(f"project {project!r} not found", code="project_not_found")


def secret_public(row: CallbackSettings, sealer: Sealer) -> SigningSecretPublic:
    return SigningSecretPublic(
        secret=sealer.open(row.signing_secret) or "",
        rotated_at=row.rotated_at,
        previous_valid_until=row.previous_until if row.previous_secret else None,
    )


def read_secret(session: Session, rt: Runtime, project: str) -> SigningSecretPublic:
    _project(session, project)
    row = signing.callback_settings(session, project, rt.sealer)
    assert row is not None
    session.commit()
    return secret_public(row, rt.sealer)


def rotate_secret(
    session: Session, rt: Runtime, project: str, secret: str | None, grace_s: float | None
) -> SigningSecretPublic:
    _project(session, project)
    row = signing.rotate(
        session, project, rt.settings.callback_secret_grace_s if grace_s is None else grace_s, rt.sealer, secret
    )
    session.commit()
    return secret_public(row, rt.sealer)


def payload_public(row: CallbackSettings) -> PayloadSettingsPublic | None:
    if not row.payload_url:
        return None
    return PayloadSettingsPublic(
        base_url=row.payload_url,
        auth_slug=row.payload_auth_slug or "users",
        api_key_set=bool(row.payload_api_key),
        upload_collection=row.payload_upload_collection,
        fields=field_names(row.payload_fields),
    )


def read_config(session: Session, rt: Runtime, project: str) -> CallbackConfigPublic:
    _project(session, project)
    row = signing.callback_settings(session, project, rt.sealer)
    assert row is not None
    session.commit()
    return CallbackConfigPublic(project=project, signing=secret_public(row, rt.sealer), payload=payload_public(row))


def set_payload(session: Session, rt: Runtime, project: str, body: PayloadSettingsUpdate) -> PayloadSettingsPublic:
    _project(session, project)
    row = signing.callback_settings(session, project, rt.sealer)
    assert row is not None
    row.payload_url = str(body.base_url).rstrip("/")
    row.payload_auth_slug = body.auth_slug
    row.payload_api_key = rt.sealer.seal(body.api_key.get_secret_value())
    row.payload_upload_collection = body.upload_collection
    row.payload_fields = {str(k): v for k, v in body.fields.items()}
    row.updated_at = utcnow()
    session.commit()
    public = payload_public(row)
    assert public is not None
    return public


def delete_payload(session: Session, project: str) -> None:
    _project(session, project)
    row = session.get(CallbackSettings, project)
    if row is not None:
        row.payload_url = row.payload_auth_slug = row.payload_api_key = row.payload_upload_collection = None
        row.payload_fields = {}
        row.updated_at = utcnow()
    session.commit()


def reseal_all(session: Session, sealer: Sealer) -> int:
    """Seal every stored secret with the first sealing key (``reel secrets rotate``); returns rows changed."""
    changed = 0
    for row in session.scalars(select(CallbackSettings).with_for_update()):
        before = (row.signing_secret, row.previous_secret, row.payload_api_key)
        row.signing_secret = sealer.reseal(row.signing_secret)
        row.previous_secret = sealer.reseal(row.previous_secret)
        row.payload_api_key = sealer.reseal(row.payload_api_key)
        changed += before != (row.signing_secret, row.previous_secret, row.payload_api_key)
    session.commit()
    return changed
