"""Projects: their task listings, and admin creation of projects and keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from reel_host.api.calls import ApiCallDep
from reel_host.api.deps import AdminDep, CallerDep, SessionDep
from reel_host.errors import NotFound
from reel_host.records.models import ApiKey
from reel_host.schemas.keys import KeyPublic, KeysPublic
from reel_host.schemas.tasks import KeyCreate, KeyCreated, ProjectCreate, ProjectPublic, TasksPublic, TaskStatus
from reel_host.services import auth
from reel_host.services.tasks import list_tasks

router = APIRouter(prefix="/projects", tags=["projects"])


@router.get("/{project_id}/tasks", response_model=TasksPublic)
async def list_project_tasks(
    project_id: str, call: ApiCallDep,
    status: Annotated[TaskStatus | None, Query(description="only tasks in this state")] = None,
    generator: Annotated[str | None, Query(max_length=200, description="only this generator's tasks")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500, description="`next` of the previous page")] = None,
) -> Response:
    """The project's tasks, newest first; another project's listing is 404."""
    def work(session: Session, project: str) -> TasksPublic:
        if project_id != project:
            raise NotFound(f"project {project_id!r} not found", code="project_not_found")
        return list_tasks(session, call.rt, call.view, project, status=status, generator=generator, limit=limit,
                          cursor=cursor)

    return await call.run(work)


@router.post("", response_model=ProjectPublic, status_code=201)
def create_project(body: ProjectCreate, session: SessionDep, _admin: AdminDep) -> ProjectPublic:
    """Create a project (admin)."""
    project = auth.create_project(session, body.name)
    session.commit()
    return ProjectPublic(id=project.id, created_at=project.created_at)


@router.post("/{project_id}/keys", response_model=KeyCreated, status_code=201)
def create_project_key(project_id: str, body: KeyCreate, session: SessionDep, _admin: AdminDep) -> KeyCreated:
    """Create an API key for a project (admin); the key is shown only in this answer."""
    record, key = auth.create_key(session, project_id, body.name, body.expires_at)
    session.commit()
    return KeyCreated(id=record.id, project=project_id, key=key, prefix=record.prefix, expires_at=record.expires_at)


def _key_public(k: ApiKey) -> KeyPublic:
    return KeyPublic(id=k.id, project=k.project_id, prefix=k.prefix, name=k.name, created_at=k.created_at,
                     last_used_at=k.last_used_at, expires_at=k.expires_at, revoked_at=k.revoked_at)


@router.get("/{project_id}/keys", response_model=KeysPublic)
def list_project_keys(project_id: str, session: SessionDep, caller: CallerDep) -> KeysPublic:
    """The project's keys (admin, or a key of that project): prefixes and dates, never the keys."""
    if not caller.sees_project(project_id):
        raise NotFound(f"project {project_id!r} not found", code="project_not_found")
    return KeysPublic(data=[_key_public(k) for k in auth.list_keys(session, project_id)])


@router.delete("/{project_id}/keys/{key_id}", response_model=KeyPublic)
def revoke_project_key(project_id: str, key_id: str, request: Request, session: SessionDep,
                       caller: CallerDep) -> KeyPublic:
    """Revoke a key (admin, or a key of that project); every API process refuses it within a second."""
    if not caller.sees_project(project_id):
        raise NotFound(f"project {project_id!r} not found", code="project_not_found")
    record = auth.revoke_key(session, key_id, project=project_id)
    session.commit()
    request.app.state.key_cache.forget(record.key_hash)  # this process: at once
    return _key_public(record)
