"""Projects: their task listings, and admin creation of projects and keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response
from sqlalchemy.orm import Session

from reel_host.api.access import ProjectCallDep
from reel_host.api.deps import AdminDep, SessionDep
from reel_host.errors import BadRequest
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


@router.post("/{project_id}/keys", response_model=KeyCreated, status_code=201)
def create_project_key(project_id: str, body: KeyCreate, session: SessionDep, _admin: AdminDep) -> KeyCreated:
    """Create an API key for a project (admin); the key is shown only in this answer."""
    record, key = auth.create_key(session, project_id, body.name)
    session.commit()
    return KeyCreated(id=record.id, project=project_id, key=key)
