"""A task's callback deliveries, redelivery, and a project's signing secret."""

from __future__ import annotations

from fastapi import APIRouter

from reel_host.api.deps import ProjectDep, RuntimeDep, SessionDep
from reel_host.callbacks import service
from reel_host.errors import NotFound
from reel_host.schemas.callbacks import (
    CallbackDeliveriesPublic,
    CallbackDeliveryPublic,
    SigningSecretPublic,
)
from reel_host.services.tasks import get_task

router = APIRouter(tags=["callbacks"])


@router.get("/tasks/{task_id}/callbacks", response_model=CallbackDeliveriesPublic)
def list_task_callbacks(task_id: str, session: SessionDep, project: ProjectDep) -> CallbackDeliveriesPublic:
    """Each callback delivery of the task (webhook and CMS), oldest first, with its attempts."""
    return service.list_deliveries(session, get_task(session, project, task_id))


@router.post(
    "/tasks/{task_id}/callbacks/{delivery_id}/redeliver",
    response_model=CallbackDeliveryPublic,
    status_code=202,
)
def redeliver_task_callback(
    task_id: str, delivery_id: str, rt: RuntimeDep, session: SessionDep, project: ProjectDep
) -> CallbackDeliveryPublic:
    """Send a delivery again, with the same `webhook-id` and a fresh retry schedule."""
    return service.redeliver(session, rt, get_task(session, project, task_id), delivery_id)


@router.get("/projects/{project_id}/callbacks/secret", response_model=SigningSecretPublic)
def read_callback_secret(project_id: str, rt: RuntimeDep, session: SessionDep,
                         project: ProjectDep) -> SigningSecretPublic:
    """The project's webhook signing secret (`whsec_...`), to verify `webhook-signature` with."""
    if project_id != project:
        raise NotFound(f"project {project_id!r} not found", code="project_not_found")
    return service.read_secret(session, rt, project)
