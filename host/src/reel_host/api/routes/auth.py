"""Console accounts: signup, login, logout, me, password change and one-time links."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from reel_host.api.access import CSRF_COOKIE, SESSION_COOKIE, UserDep
from reel_host.api.deps import RuntimeDep, SessionDep
from reel_host.errors import Unauthorized
from reel_host.records.models import User, UserSession
from reel_host.runtime import Runtime
from reel_host.schemas.accounts import (
    InvitationPreview,
    LoginCreate,
    MembershipPublic,
    MePublic,
    PasswordChange,
    PasswordReset,
    SetupPublic,
    SignupCreate,
)
from reel_host.services import accounts
from reel_host.throttle import Throttle

router = APIRouter(prefix="/auth", tags=["auth"])


def _address(request: Request) -> str | None:
    return request.client.host if request.client else None


def _me(session: SessionDep, user: User, login: UserSession) -> MePublic:
    roles = accounts.memberships(session, user.id)
    return MePublic(id=user.id, email=user.email, is_admin=user.is_admin, csrf_token=login.csrf_token,
                    created_at=user.created_at,
                    projects=[MembershipPublic(project=p, role=r) for p, r in sorted(roles.items())])  # type: ignore[arg-type]


def _log_in(response: Response, rt: Runtime, session: SessionDep, request: Request, user: User) -> MePublic:
    token, login = accounts.start_session(session, rt.settings, user, address=_address(request),
                                          user_agent=request.headers.get("user-agent"))
    session.commit()
    secure, ttl = rt.settings.resolved_cookie_secure, rt.settings.session_ttl_s
    response.set_cookie(SESSION_COOKIE, token, max_age=ttl, httponly=True, samesite="lax", secure=secure, path="/")
    response.set_cookie(CSRF_COOKIE, login.csrf_token, max_age=ttl, httponly=False, samesite="lax", secure=secure,
                        path="/")
    return _me(session, user, login)


@router.get("/setup", response_model=SetupPublic)
def read_setup(rt: RuntimeDep, session: SessionDep) -> SetupPublic:
    """Open: whether this is the first run (the first signup becomes the admin) and how signup works."""
    return SetupPublic(first_run=accounts.is_first_run(session, rt.settings),
                       signup=rt.settings.resolved_signup, embedded=rt.settings.embedded)  # type: ignore[arg-type]


@router.post("/signup", response_model=MePublic, status_code=201)
def signup(body: SignupCreate, request: Request, response: Response, rt: RuntimeDep, session: SessionDep) -> MePublic:
    """Create an account (first run, an invitation, or open signup) and log it in."""
    result = accounts.signup(session, rt.settings, body.email, body.password, body.invitation)
    return _log_in(response, rt, session, request, result.user)


@router.post("/login", response_model=MePublic)
def login(body: LoginCreate, request: Request, response: Response, rt: RuntimeDep, session: SessionDep) -> MePublic:
    """Log in; a wrong password, an unknown email and a locked account answer the same 401."""
    user = accounts.authenticate(session, rt.settings, Throttle(rt), body.email, body.password, _address(request))
    return _log_in(response, rt, session, request, user)


@router.post("/logout", status_code=204)
def logout(who: UserDep, rt: RuntimeDep, session: SessionDep) -> Response:
    """End this login (its record is deleted: the cookie is useless from now on)."""
    accounts.end_session(session, who.session_id or "")
    session.commit()
    response = Response(status_code=204)
    for name in (SESSION_COOKIE, CSRF_COOKIE):
        response.delete_cookie(name, path="/", secure=rt.settings.resolved_cookie_secure, samesite="lax")
    return response


@router.get("/me", response_model=MePublic)
def read_me(who: UserDep, session: SessionDep) -> MePublic:
    """The logged-in person, their projects and roles, and the CSRF token of this login."""
    login = session.get(UserSession, who.session_id)
    assert who.user is not None and login is not None
    return _me(session, who.user, login)


@router.post("/password", status_code=204)
def change_password(body: PasswordChange, who: UserDep, rt: RuntimeDep, session: SessionDep) -> Response:
    """Change the password; every other login of this person ends."""
    user = session.get(User, who.user_id)
    if user is None or not accounts.verify_password(user, body.current_password):
        raise Unauthorized("the current password is wrong", code="invalid_credentials",
                           details=[{"field": "current_password", "message": "wrong password"}])
    accounts.set_password(session, rt.settings, user, body.new_password, keep_session=who.session_id)
    session.commit()
    return Response(status_code=204)


@router.post("/reset", status_code=204)
def reset_password(body: PasswordReset, rt: RuntimeDep, session: SessionDep) -> Response:
    """Set a password with a one-time link's token (`reel users reset-password`, `create-admin`)."""
    accounts.use_reset(session, rt.settings, body.token, body.password)
    session.commit()
    return Response(status_code=204)


@router.get("/invitations/{token}", response_model=InvitationPreview)
def read_invitation(token: str, session: SessionDep) -> InvitationPreview:
    """Open: what an invitation link offers (404 once used, revoked or expired)."""
    inv = accounts.open_invitation(session, token)
    return InvitationPreview(project=inv.project_id, email=inv.email, role=inv.role,  # type: ignore[arg-type]
                             expires_at=inv.expires_at)


@router.post("/invitations/{token}/accept", response_model=MePublic)
def accept_invitation(token: str, who: UserDep, session: SessionDep) -> MePublic:
    """Join the invitation's project with the account already logged in (same email)."""
    assert who.user is not None
    accounts.accept_invitation(session, accounts.open_invitation(session, token), who.user)
    session.commit()
    login = session.get(UserSession, who.session_id)
    assert login is not None
    return _me(session, who.user, login)
