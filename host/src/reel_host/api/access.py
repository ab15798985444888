"""Who a request acts for: an API key (one project), a console login (the user's memberships) or
the admin key, and the dependencies that check it against a project or a task.

A project or task the caller may not see is a 404 (never a 403), whatever the credential.
Console logins come as an HttpOnly session cookie; unsafe methods must then repeat the login's
CSRF token in ``X-CSRF-Token`` (the console reads it from the ``reel_csrf`` cookie), so another
site cannot make a logged-in browser act.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Literal

from fastapi import Depends, Header, Request
from fastapi.security import APIKeyCookie, HTTPBearer
from sqlalchemy import select
from sqlalchemy.orm import Session

from reel_host.api.calls import ApiCall, parse_bearer
from reel_host.api.deps import SessionDep, bearer_token, is_admin_token, key_identity
from reel_host.errors import Forbidden, InvalidRequest, NotFound, Unauthorized
from reel_host.records.models import Task, User
from reel_host.services import accounts

SESSION_COOKIE = "reel_session"
CSRF_COOKIE = "reel_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# only for the OpenAPI document: both schemes are read by ``principal`` below
_bearer_scheme = HTTPBearer(auto_error=False, description="a project API key")
_cookie_scheme = APIKeyCookie(name=SESSION_COOKIE, auto_error=False,
                              description="a console login; unsafe methods also need X-CSRF-Token")


@dataclass(frozen=True)
class Principal:
    """The caller of one request."""

    kind: Literal["key", "user", "admin"]
    key_project: str | None = None
    user: User | None = None
    session_id: str | None = None
    memberships: Mapping[str, str] = field(default_factory=dict)

    @property
    def user_id(self) -> str | None:
        return self.user.id if self.user is not None else None

    @property
    def is_admin(self) -> bool:
        return self.kind == "admin" or bool(self.user is not None and self.user.is_admin)

    def projects(self) -> list[str]:
        if self.kind == "key":
            return [self.key_project or ""]
        return sorted(self.memberships)

    def sees(self, project: str) -> bool:
        """Whether tasks of ``project`` are visible (keys: their project; users: their memberships)."""
        if self.kind == "key":
            return project == self.key_project
        return project in self.memberships

    def submit_project(self, requested: str | None) -> str:
        """The project a submit goes into: the one asked for, if allowed, else the only one there is."""
        if self.kind == "admin":
            raise Unauthorized("the admin credential does not run tasks; use a project API key")
        if requested is not None:
            if not self.sees(requested):
                raise NotFound(f"project {requested!r} not found", code="project_not_found",
                               details=[{"field": "project", "message": "not one of your projects"}])
            return requested
        projects = self.projects()
        if len(projects) == 1:
            return projects[0]
        if not projects:
            raise Forbidden("you are not a member of any project yet; ask an owner for an invitation",
                            code="no_project")
        raise InvalidRequest(f"say which project: one of {', '.join(projects)}",
                             details=[{"field": "project", "message": "required: you belong to several"}])


def principal(
    request: Request, session: SessionDep, token: Annotated[str | None, Depends(bearer_token)],
    _b: Annotated[object, Depends(_bearer_scheme)] = None,
    _c: Annotated[object, Depends(_cookie_scheme)] = None,
) -> Principal:
    """The caller: a bearer credential wins over the cookie; without either, 401."""
    if token is not None:
        if is_admin_token(request.app.state.runtime, token):
            return Principal(kind="admin")
        # revocation-aware, and throttled per address after too many bad keys (429)
        return Principal(kind="key", key_project=key_identity(request, session, token).project)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        return login_principal(request, session, cookie)
    raise Unauthorized("missing credential: send 'Authorization: Bearer <api key>' or log in")


def login_principal(request: Request, session: Session, cookie: str) -> Principal:
    found = accounts.session_for_token(session, cookie)
    if found is None:
        raise Unauthorized("your login has expired; log in again", code="session_expired")
    row, user = found
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not sent or not hmac.compare_digest(sent.encode("utf-8", "surrogatepass"), row.csrf_token.encode()):
            raise Forbidden(f"missing or wrong {CSRF_HEADER} header (CSRF protection)", code="csrf_failed")
    return Principal(kind="user", user=user, session_id=row.id,
                     memberships=accounts.memberships(session, user.id))


PrincipalDep = Annotated[Principal, Depends(principal)]


def require_user(who: PrincipalDep) -> Principal:
    """A console login (401 for keys: the route is about a person)."""
    if who.kind != "user" or who.user is None:
        raise Unauthorized("this needs a console login", code="login_required")
    return who


UserDep = Annotated[Principal, Depends(require_user)]


def require_instance_admin(who: PrincipalDep) -> Principal:
    """The admin key or an admin's login."""
    if not who.is_admin:
        raise Forbidden("instance admin only")
    return who


InstanceAdminDep = Annotated[Principal, Depends(require_instance_admin)]


class ProjectAccess:
    """Dependency: the caller may act on ``{project_id}`` (returns it).

    ``role="owner"`` also needs an owner's login or the admin key; a key reaches a project's
    owner routes only with ``allow_key``. Not seeing the project is a 404; seeing it without the
    role is a 403.
    """

    def __init__(self, role: Literal["member", "owner"] = "member", allow_key: bool = True) -> None:
        self.role = role
        self.allow_key = allow_key

    def __call__(self, project_id: str, who: PrincipalDep) -> str:
        if who.kind == "admin":  # the admin key manages every project; an admin's login only its own
            return project_id
        if not who.sees(project_id):
            raise NotFound(f"project {project_id!r} not found", code="project_not_found")
        if self.role == "owner":
            if who.kind == "key" and not self.allow_key:
                raise Forbidden("this needs a project owner's login or the admin key")
            if who.kind == "user" and who.memberships.get(project_id) != "owner":
                raise Forbidden(f"only an owner of {project_id!r} may do this")
        return project_id


ProjectMemberDep = Annotated[str, Depends(ProjectAccess())]
ProjectOwnerDep = Annotated[str, Depends(ProjectAccess(role="owner", allow_key=False))]


def task_project(task_id: str, who: PrincipalDep, session: SessionDep) -> str:
    """The project of ``{task_id}`` if the caller sees it (404 otherwise, as for a missing task)."""
    if who.kind == "admin":
        raise Unauthorized("the admin credential does not read tasks; use a project API key")
    if who.kind == "key":
        return who.key_project or ""  # get_task() checks the task is in it
    project = session.scalar(select(Task.project_id).where(Task.id == task_id)) if len(task_id) <= 40 else None
    if project is None or not who.sees(project):
        raise NotFound(f"task {task_id!r} not found", code="task_not_found")
    return project


TaskProjectDep = Annotated[str, Depends(task_project)]


# -- the one-thread-hop handlers (reel_host.api.calls) with a key or a login ---------------------


@dataclass
class AccessCall(ApiCall):
    """An :class:`ApiCall` whose caller may be a key or a console login.

    ``project_of`` (run in the handler's one thread) resolves the caller and answers the project
    the route acts in: the task's (``task_id``), the path's (``project_id``), else the one a submit
    asks for (``requested_project``) or the caller's only one.
    """

    task_id: str | None = None
    project_id: str | None = None
    requested_project: str | None = None  # submit's ``project``
    who: Principal | None = None

    def principal(self, session: Session) -> Principal:
        if self.who is None:
            self.who = principal(self.request, session, self.token)
        return self.who

    def project_of(self, session: Session) -> str:
        who = self.principal(session)
        if self.task_id is not None:
            return task_project(self.task_id, who, session)
        if self.project_id is not None:
            return ProjectAccess()(self.project_id, who)
        return who.submit_project(self.requested_project)  # a key's own; a login's only or asked-for one


def _access_call(request: Request, authorization: str | None, task_id: str | None = None,
                 project_id: str | None = None) -> AccessCall:
    state = request.app.state
    return AccessCall(request, state.runtime, state.worker_view, parse_bearer(authorization), task_id=task_id,
                      project_id=project_id)


async def access_call(
    request: Request, authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
    _b: Annotated[object, Depends(_bearer_scheme)] = None, _c: Annotated[object, Depends(_cookie_scheme)] = None,
) -> AccessCall:
    """Async (no threadpool hop): reads headers only; the caller is resolved in the handler's thread."""
    return _access_call(request, authorization)


async def task_call(
    task_id: str, request: Request, authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
    _b: Annotated[object, Depends(_bearer_scheme)] = None, _c: Annotated[object, Depends(_cookie_scheme)] = None,
) -> AccessCall:
    return _access_call(request, authorization, task_id=task_id)


async def project_call(
    project_id: str, request: Request,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
    _b: Annotated[object, Depends(_bearer_scheme)] = None, _c: Annotated[object, Depends(_cookie_scheme)] = None,
) -> AccessCall:
    return _access_call(request, authorization, project_id=project_id)


AccessCallDep = Annotated[AccessCall, Depends(access_call)]
TaskCallDep = Annotated[AccessCall, Depends(task_call)]
ProjectCallDep = Annotated[AccessCall, Depends(project_call)]
