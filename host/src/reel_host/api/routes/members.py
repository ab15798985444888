"""A project's people: members and their roles, and invitations (owners and the admin key)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from sqlalchemy import select

from reel_host.api.access import PrincipalDep, ProjectMemberDep, ProjectOwnerDep
from reel_host.api.deps import RuntimeDep, SessionDep
from reel_host.errors import Forbidden, NotFound
from reel_host.records.models import Invitation, Membership, User, utcnow
from reel_host.schemas.accounts import (
    InvitationCreate,
    InvitationPublic,
    InvitationsPublic,
    MemberPublic,
    MembersPublic,
    MemberUpdate,
)
from reel_host.services import accounts

router = APIRouter(prefix="/projects/{project_id}", tags=["members"])


def _member(m: Membership, u: User) -> MemberPublic:
    return MemberPublic(user_id=u.id, email=u.email, role=m.role, joined_at=m.created_at)  # type: ignore[arg-type]


def _invitation(inv: Invitation, link: str | None = None) -> InvitationPublic:
    return InvitationPublic(id=inv.id, project=inv.project_id, email=inv.email, role=inv.role,  # type: ignore[arg-type]
                            created_at=inv.created_at, expires_at=inv.expires_at, link=link)


@router.get("/members", response_model=MembersPublic)
def list_members(project_id: ProjectMemberDep, session: SessionDep) -> MembersPublic:
    """The project's members and roles (any member may look)."""
    rows = session.execute(select(Membership, User).join(User, User.id == Membership.user_id)
                           .where(Membership.project_id == project_id).order_by(User.email_key))
    return MembersPublic(data=[_member(m, u) for m, u in rows])


@router.put("/members/{user_id}", response_model=MemberPublic)
def update_member(project_id: ProjectOwnerDep, user_id: str, body: MemberUpdate, session: SessionDep) -> MemberPublic:
    """Change a member's role (owners); the last owner cannot step down."""
    row = accounts.set_role(session, project_id, user_id, body.role)
    session.commit()
    user = session.get(User, user_id)
    assert user is not None
    return _member(row, user)


@router.delete("/members/{user_id}", status_code=204)
def remove_member(project_id: str, user_id: str, who: PrincipalDep, session: SessionDep) -> Response:
    """Remove a member (owners), or leave the project yourself; the last owner cannot go."""
    if not (who.kind == "admin" or who.memberships.get(project_id) == "owner"
            or (who.user_id == user_id and project_id in who.memberships)):
        if who.kind == "admin" or who.sees(project_id):
            raise Forbidden(f"only an owner of {project_id!r} may remove members")
        raise NotFound(f"project {project_id!r} not found", code="project_not_found")
    accounts.remove_member(session, project_id, user_id)
    session.commit()
    return Response(status_code=204)


@router.get("/invitations", response_model=InvitationsPublic)
def list_invitations(project_id: ProjectOwnerDep, session: SessionDep) -> InvitationsPublic:
    """Pending invitations (owners); their links are not shown again."""
    rows = session.scalars(select(Invitation).where(
        Invitation.project_id == project_id, Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None),
        Invitation.expires_at > utcnow()).order_by(Invitation.created_at.desc()))
    return InvitationsPublic(data=[_invitation(i) for i in rows])


@router.post("/invitations", response_model=InvitationPublic, status_code=201)
def create_invitation(project_id: ProjectOwnerDep, body: InvitationCreate, who: PrincipalDep, rt: RuntimeDep,
                      session: SessionDep) -> InvitationPublic:
    """Invite an email into the project (owners); the answer holds the one-time link, shown once."""
    inv, token = accounts.create_invitation(session, rt.settings, project_id, body.email, body.role, who.user_id)
    session.commit()
    return _invitation(inv, accounts.link(rt.settings, "invite", token))


@router.delete("/invitations/{invitation_id}", status_code=204)
def revoke_invitation(project_id: ProjectOwnerDep, invitation_id: str, session: SessionDep) -> Response:
    """Revoke a pending invitation (owners): its link stops working."""
    inv = session.get(Invitation, invitation_id)
    if inv is None or inv.project_id != project_id:
        raise NotFound(f"invitation {invitation_id!r} not found", code="invitation_not_found")
    inv.revoked_at = inv.revoked_at or utcnow()
    session.commit()
    return Response(status_code=204)
