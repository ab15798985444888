"""Console accounts: users, logins (sessions as records), memberships, invitations, one-time links.

Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106's second recommendation).
Session, invitation and reset tokens are 256-bit random strings; only their SHA-256 is stored,
so a leaked database holds no usable token. A wrong password, an unknown email and a locked
account all fail with one message (``invalid_credentials``), and attempts are throttled per
account and per address.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from reel_host.errors import Conflict, Forbidden, InvalidRequest, NotFound, TooManyRequests, Unauthorized
from reel_host.records.models import Invitation, Membership, PasswordReset, Project, User, UserSession, utcnow
from reel_host.services import auth
from reel_host.settings import Settings
from reel_host.throttle import Throttle

ROLES = ("owner", "member")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
_hasher = PasswordHasher()
# verified against when the email is unknown, so both failures cost the same time
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))
BAD_LOGIN = "email or password is wrong"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def email_key(email: str) -> str:
    """What makes two emails the same account: trimmed and lower-cased."""
    return email.strip().lower()


def check_email(email: str) -> str:
    email = email.strip()
    if len(email) > 320 or not EMAIL.match(email):
        raise InvalidRequest(f"email must look like name@example.com, got {email!r}",
                             details=[{"field": "email", "message": "not an email address"}])
    return email


def check_password(settings: Settings, password: str) -> None:
    if len(password) < settings.password_min_length:
        raise InvalidRequest(f"password must be at least {settings.password_min_length} characters",
                             details=[{"field": "password", "message": "too short"}])
    if len(password) > 1000:
        raise InvalidRequest("password must be at most 1000 characters",
                             details=[{"field": "password", "message": "too long"}])


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidRequest(f"role must be one of {', '.join(ROLES)}, got {role!r}",
                             details=[{"field": "role", "message": "unknown role"}])
    return role


# -- users ------------------------------------------------------------------------------


def find_user(session: Session, email: str) -> User | None:
    return session.scalars(select(User).where(User.email_key == email_key(email))).first()


def create_user(session: Session, settings: Settings, email: str, password: str | None, *,
                is_admin: bool = False) -> User:
    """A new user; ``password=None`` leaves it unusable until a one-time link sets one."""
    email = check_email(email)
    if password is not None:
        check_password(settings, password)
    if find_user(session, email) is not None:
        raise Conflict(f"an account for {email!r} already exists", code="email_taken",
                       details=[{"field": "email", "message": "already registered"}])
    user = User(email=email, email_key=email_key(email), is_admin=is_admin,
                password_hash=_hasher.hash(password) if password is not None else None,
                password_changed_at=utcnow() if password is not None else None)
    session.add(user)
    session.flush()
    return user


def user_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(User)) or 0)


def is_first_run(session: Session, settings: Settings) -> bool:
    """Embedded mode with no account yet: the first signup becomes the instance admin."""
    return settings.embedded and user_count(session) == 0


def set_password(session: Session, settings: Settings, user: User, password: str, *,
                 keep_session: str | None = None) -> None:
    """Set a new password and end every other login of the user."""
    check_password(settings, password)
    user.password_hash = _hasher.hash(password)
    user.password_changed_at = utcnow()
    query = select(UserSession).where(UserSession.user_id == user.id)
    for row in session.scalars(query):
        if row.id != keep_session:
            session.delete(row)
    session.flush()


def verify_password(user: User | None, password: str) -> bool:
    stored = user.password_hash if user is not None and user.password_hash else _DUMMY_HASH
    ok: bool
    try:
        ok = _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        ok = False
    return ok and user is not None and user.password_hash is not None


def authenticate(session: Session, settings: Settings, throttle: Throttle, email: str, password: str,
                 address: str | None) -> User:
    """The user these credentials log in, or one ``invalid_credentials`` error for every failure."""
    for key, rate, burst in ((f"login:account:{email_key(email)}", settings.login_rate_per_s, settings.login_burst),
                             (f"login:address:{address or '-'}", settings.login_address_rate_per_s,
                              settings.login_address_burst)):
        wait = throttle.hit(key, rate, burst)
        if wait is not None:
            raise TooManyRequests(f"too many login attempts; try again in {max(1, round(wait))} s", wait)
    user = find_user(session, email)
    if not verify_password(user, password) or user is None or user.locked_at is not None:
        raise Unauthorized(BAD_LOGIN, code="invalid_credentials")
    if _hasher.check_needs_rehash(user.password_hash or ""):
        user.password_hash = _hasher.hash(password)
    return user


# -- sessions ------------------------------------------------------------------------------


def start_session(session: Session, settings: Settings, user: User, *, address: str | None = None,
                  user_agent: str | None = None) -> tuple[str, UserSession]:
    """Record a login; return the cookie token (only its hash is stored) and the record."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    row = UserSession(id=token_hash(token), user_id=user.id, csrf_token=secrets.token_urlsafe(24),
                      created_at=now, last_seen_at=now, expires_at=now + timedelta(seconds=settings.session_ttl_s),
                      address=(address or "")[:64] or None, user_agent=(user_agent or "")[:300] or None)
    session.add(row)
    session.flush()
    return token, row


def session_for_token(session: Session, token: str) -> tuple[UserSession, User] | None:
    """The live login of a cookie token and its user, or None (unknown, expired, user locked)."""
    if not token or len(token) > 200:
        return None
    row = session.get(UserSession, token_hash(token))
    if row is None:
        return None
    now = utcnow()
    if row.expires_at <= now:
        session.delete(row)
        session.commit()
        return None
    user = session.get(User, row.user_id)
    if user is None or user.locked_at is not None:
        return None
    if now - row.last_seen_at > timedelta(minutes=5):  # a cheap trace of use, not a write per request
        row.last_seen_at = now
        session.commit()
    return row, user


def end_session(session: Session, session_id: str) -> None:
    row = session.get(UserSession, session_id)
    if row is not None:
        session.delete(row)
        session.flush()


# -- memberships ------------------------------------------------------------------------------


def memberships(session: Session, user_id: str) -> dict[str, str]:
    """project → role for every project the user belongs to."""
    rows = session.execute(select(Membership.project_id, Membership.role).where(Membership.user_id == user_id))
    return {p: r for p, r in rows}


def add_member(session: Session, project: str, user: User, role: str) -> Membership:
    check_role(role)
    row = session.get(Membership, (project, user.id))
    if row is None:
        row = Membership(project_id=project, user_id=user.id, role=role)
        session.add(row)
    elif role == "owner":  # joining again never demotes
        row.role = role
    session.flush()
    return row


def set_role(session: Session, project: str, user_id: str, role: str) -> Membership:
    check_role(role)
    row = session.get(Membership, (project, user_id))
    if row is None:
        raise NotFound(f"user {user_id!r} is not a member of {project!r}", code="member_not_found")
    if row.role == "owner" and role != "owner":
        _keep_an_owner(session, project, user_id)
    row.role = role
    session.flush()
    return row


def remove_member(session: Session, project: str, user_id: str) -> None:
    row = session.get(Membership, (project, user_id))
    if row is None:
        raise NotFound(f"user {user_id!r} is not a member of {project!r}", code="member_not_found")
    if row.role == "owner":
        _keep_an_owner(session, project, user_id)
    session.delete(row)
    session.flush()


def _keep_an_owner(session: Session, project: str, leaving: str) -> None:
    owners = session.scalar(select(func.count()).select_from(Membership).where(
        Membership.project_id == project, Membership.role == "owner", Membership.user_id != leaving))
    if not owners:
        raise Conflict(f"project {project!r} must keep at least one owner", code="last_owner")


# -- invitations and one-time links ------------------------------------------------------------


def create_invitation(session: Session, settings: Settings, project: str, email: str, role: str = "member",
                      created_by: str | None = None) -> tuple[Invitation, str]:
    """An invitation into ``project``; return it and its token (shown once, in the link)."""
    if session.get(Project, project) is None:
        raise NotFound(f"project {project!r} does not exist", code="project_not_found")
    token = secrets.token_urlsafe(32)
    inv = Invitation(project_id=project, email=check_email(email), role=check_role(role),
                     token_hash=token_hash(token), created_by=created_by,
                     expires_at=utcnow() + timedelta(seconds=settings.invitation_ttl_s))
    session.add(inv)
    session.flush()
    return inv, token


def open_invitation(session: Session, token: str) -> Invitation:
    """The pending invitation of a token (404 when unknown, used, revoked or expired)."""
    inv = session.scalars(select(Invitation).where(Invitation.token_hash == token_hash(token))).first()
    if inv is None or inv.accepted_at or inv.revoked_at or inv.expires_at <= utcnow():
        raise NotFound("this invitation link is invalid, used or expired", code="invitation_invalid")
    return inv


def accept_invitation(session: Session, inv: Invitation, user: User) -> Membership:
    if email_key(inv.email) != user.email_key:
        raise Forbidden(f"this invitation is for {inv.email}, not {user.email}", code="invitation_other_email")
    inv.accepted_at = utcnow()
    return add_member(session, inv.project_id, user, inv.role)


def create_reset(session: Session, settings: Settings, user: User) -> str:
    """A one-time link token that sets the user's password (reset, or the first admin's setup)."""
    token = secrets.token_urlsafe(32)
    session.add(PasswordReset(token_hash=token_hash(token), user_id=user.id,
                              expires_at=utcnow() + timedelta(seconds=settings.reset_ttl_s)))
    session.flush()
    return token


def use_reset(session: Session, settings: Settings, token: str, password: str) -> User:
    row = session.get(PasswordReset, token_hash(token))
    if row is None or row.used_at is not None or row.expires_at <= utcnow():
        raise NotFound("this password link is invalid, used or expired", code="reset_invalid")
    user = session.get(User, row.user_id)
    if user is None:
        raise NotFound("this password link is invalid, used or expired", code="reset_invalid")
    set_password(session, settings, user, password)
    row.used_at = utcnow()
    user.locked_at = None
    session.flush()
    return user


def link(settings: Settings, kind: str, token: str) -> str:
    """The console URL of a one-time link (``invite`` or ``reset``)."""
    return f"{settings.public_url.rstrip('/')}/{kind}/{token}"


# -- signup ------------------------------------------------------------------------------


@dataclass
class SignupResult:
    user: User
    first_run: bool = False
    project: str | None = None


def _personal_project(session: Session, email: str) -> str:
    base = re.sub(r"[^a-z0-9_-]+", "-", email_key(email).split("@")[0]).strip("-_")[:40] or "user"
    while True:
        name = f"{base}-{secrets.token_hex(3)}"
        if session.get(Project, name) is None:
            auth.create_project(session, name)
            return name


def signup(session: Session, settings: Settings, email: str, password: str,
           invitation: str | None = None) -> SignupResult:
    """Create an account by the instance's rules.

    1. First run (embedded, no account yet): the instance admin, owner of ``default``.
    2. With an invitation token: a member of the invitation's project, in its role.
    3. Open signup (``REEL_SIGNUP=open``): the owner of a new personal project.
    Otherwise it is refused (403 ``signup_closed``).
    """
    if invitation is None and is_first_run(session, settings):
        user = create_user(session, settings, email, password, is_admin=True)
        auth.ensure_project(session, "default")
        add_member(session, "default", user, "owner")
        return SignupResult(user, first_run=True, project="default")
    if invitation is not None:
        inv = open_invitation(session, invitation)
        if email_key(inv.email) != email_key(email):
            raise Forbidden(f"this invitation is for {inv.email}", code="invitation_other_email",
                            details=[{"field": "email", "message": "not the invited address"}])
        user = create_user(session, settings, email, password)
        accept_invitation(session, inv, user)
        return SignupResult(user, project=inv.project_id)
    if settings.resolved_signup != "open" or user_count(session) == 0:
        raise Forbidden("signing up needs an invitation on this instance", code="signup_closed")
    user = create_user(session, settings, email, password)
    project = _personal_project(session, email)
    add_member(session, project, user, "owner")
    return SignupResult(user, project=project)
