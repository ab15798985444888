"""Projects: their task listings, and admin creation of projects and keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from reel_host.api.access import Principal, PrincipalDep, ProjectCallDep
from reel_host.api.deps import AdminDep, SessionDep
from reel_host.errors import BadRequest, NotFound
from reel_host.records.models import ApiKey
from reel_host.schemas.keys import KeyPublic, KeysPublic
from reel_host.schemas.tasks import KeyCreate, KeyCreated, ProjectCreate, ProjectPublic, TasksPublic, TaskStatus
from reel_host.services import auth
from reel_host.services.tasks import list_tasks

router = APIRouter(prefix="/projects", tags=["projects"])


@router.get("/{project_id}/tasks", response_model=TasksPublic)
async def list_project_tasks(
    project_id: str, call: ProjectCallDep,
    status: Annotated[TaskStatus | None, Query(description="only tasks in this state")] = None,
    generator: Annotated[str | None, Query(max_length=200, description="only this generator's tasks")] = None,
    mine: Annotated[bool, Query(description="only the logged-in person's own tasks (console logins)")] = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500, description="`next` of the previous page")] = None,
) -> Response:
    """The project's tasks, newest first; another project's listing is 404."""
    def work(session: Session, project: str) -> TasksPublic:  # project: the path's, once the caller may see it
        user = call.principal(session).user_id
        if mine and user is None:
            raise BadRequest("mine=true needs a console login (an API key submits as nobody)",
                             details=[{"field": "mine", "message": "needs a login"}])
        return list_tasks(session, call.rt, call.view, project, status=status, generator=generator, limit=limit,
                          cursor=cursor, created_by=user if mine else None)

    return await call.run(work)


@router.post("", response_model=ProjectPublic, status_code=201)
def create_project(body: ProjectCreate, session: SessionDep, _admin: AdminDep) -> ProjectPublic:
    """Create a project (admin)."""
    project = auth.create_project(session, body.name)
    session.commit()
    return ProjectPublic(id=project.id, created_at=project.created_at)


def _may_manage_keys(who: Principal, project_id: str) -> None:
    """The admin, a key of the project, or an owner's console login; anyone else sees no such project."""
    allowed = (who.is_admin or (who.kind == "key" and who.key_project == project_id)
               or (who.kind == "user" and who.memberships.get(project_id) == "owner"))
    if not allowed:
        raise NotFound(f"project {project_id!r} not found", code="project_not_found")


@router.post("/{project_id}/keys", response_model=KeyCreated, status_code=201)
def create_project_key(project_id: str, body: KeyCreate, session: SessionDep, who: PrincipalDep) -> KeyCreated:
    """Create an API key for a project (admin, a key of it, or an owner's login); the key is shown only here."""
    _may_manage_keys(who, project_id)
    record, key = auth.create_key(session, project_id, body.name, body.expires_at)
    session.commit()
    return KeyCreated(id=record.id, project=project_id, key=key, prefix=record.prefix, expires_at=record.expires_at)


def _key_public(k: ApiKey) -> KeyPublic:
    return KeyPublic(id=k.id, project=k.project_id, prefix=k.prefix, name=k.name, created_at=k.created_at,
                     last_used_at=k.last_used_at, expires_at=k.expires_at, revoked_at=k.revoked_at)


@router.get("/{project_id}/keys", response_model=KeysPublic)
def list_project_keys(project_id: str, session: SessionDep, who: PrincipalDep) -> KeysPublic:
    """The project's keys (admin, a key of that project, or an owner's login): prefixes and dates, never keys."""
    _may_manage_keys(who, project_id)
    return KeysPublic(data=[_key_public(k) for k in auth.list_keys(session, project_id)])


@router.delete("/{project_id}/keys/{key_id}", response_model=KeyPublic)
def revoke_project_key(project_id: str, key_id: str, request: Request, session: SessionDep,
                       who: PrincipalDep) -> KeyPublic:
    """Revoke a key (admin, a key of that project, or an owner's login); every API process refuses it within 1 s."""
    _may_manage_keys(who, project_id)
    record = auth.revoke_key(session, key_id, project=project_id)
    session.commit()
    request.app.state.key_cache.forget(record.key_hash)  # this process: at once
    return _key_public(record)
