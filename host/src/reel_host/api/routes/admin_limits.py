"""Admin: a project's limits (rate, queued, running, storage, retention)."""

from __future__ import annotations

from fastapi import APIRouter

from reel_host.api.deps import AdminDep, SessionDep
from reel_host.schemas.limits import ProjectLimitsPublic, ProjectLimitsUpdate
from reel_host.services import limits

router = APIRouter(prefix="/admin/projects/{project_id}/limits", tags=["admin"])


@router.get("", response_model=ProjectLimitsPublic)
def read_project_limits(project_id: str, session: SessionDep, _admin: AdminDep) -> ProjectLimitsPublic:
    """The project's limits and its usage now (queued, running, stored bytes)."""
    return limits.read_limits(session, project_id)


@router.put("", response_model=ProjectLimitsPublic)
def update_project_limits(
    project_id: str, body: ProjectLimitsUpdate, session: SessionDep, _admin: AdminDep
) -> ProjectLimitsPublic:
    """Replace the project's limits; a null or absent limit is no limit."""
    return limits.set_limits(session, project_id, body)
