"""Admin: a project's callback signing secret (rotation) and PayloadCMS settings (admin key or owner login)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from reel_host.api.access import ProjectOwnerDep
from reel_host.api.deps import RuntimeDep, SessionDep
from reel_host.callbacks import service
from reel_host.schemas.callbacks import (
    CallbackConfigPublic,
    PayloadSettingsPublic,
    PayloadSettingsUpdate,
    SecretRotate,
    SigningSecretPublic,
)

router = APIRouter(prefix="/admin/projects/{project_id}/callbacks", tags=["admin"])


@router.get("", response_model=CallbackConfigPublic)
def read_callback_config(project_id: ProjectOwnerDep, rt: RuntimeDep, session: SessionDep) -> CallbackConfigPublic:
    """The project's signing secret and Payload settings (the Payload API key is never returned)."""
    return service.read_config(session, rt, project_id)


@router.post("/secret/rotate", response_model=SigningSecretPublic)
def rotate_callback_secret(
    project_id: ProjectOwnerDep, body: SecretRotate, rt: RuntimeDep, session: SessionDep
) -> SigningSecretPublic:
    """Make a new signing secret; the old one still signs (a second signature) during the grace period."""
    return service.rotate_secret(session, rt, project_id, body.secret, body.grace_s)


@router.put("/payload", response_model=PayloadSettingsPublic)
def update_payload_settings(
    project_id: ProjectOwnerDep, body: PayloadSettingsUpdate, rt: RuntimeDep, session: SessionDep
) -> PayloadSettingsPublic:
    """Connect the project to PayloadCMS: base URL, auth collection slug, API key (stored sealed), uploads."""
    return service.set_payload(session, rt, project_id, body)


@router.delete("/payload", status_code=204)
def delete_payload_settings(project_id: ProjectOwnerDep, session: SessionDep) -> Response:
    """Disconnect the project from PayloadCMS (pending CMS deliveries then fail)."""
    service.delete_payload(session, project_id)
    return Response(status_code=204)
