"""Request and response models of the console's accounts: auth, members, invitations."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["owner", "member"]


class SignupCreate(BaseModel):
    """Body of ``POST /auth/signup``."""

    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=1000)
    invitation: str | None = Field(None, max_length=200, description="the token of an invitation link")


class LoginCreate(BaseModel):
    """Body of ``POST /auth/login``."""

    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=1000)


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: str = Field(min_length=1, max_length=1000)
    new_password: str = Field(min_length=1, max_length=1000)


class PasswordReset(BaseModel):
    """Body of ``POST /auth/reset``: the token of a one-time link and the new password."""

    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=1000)


class MembershipPublic(BaseModel):
    project: str
    role: Role


class MePublic(BaseModel):
    """The logged-in person; ``csrf_token`` goes into ``X-CSRF-Token`` on unsafe requests."""

    id: str
    email: str
    is_admin: bool
    projects: list[MembershipPublic]
    csrf_token: str
    created_at: datetime


class SetupPublic(BaseModel):
    """What the console's first screen needs to know before anyone logs in."""

    first_run: bool = Field(description="no account yet and embedded mode: signing up makes the admin")
    signup: Literal["open", "invite"]
    embedded: bool


class InvitationPreview(BaseModel):
    project: str
    email: str
    role: Role
    expires_at: datetime


class MemberPublic(BaseModel):
    user_id: str
    email: str
    role: Role
    joined_at: datetime


class MembersPublic(BaseModel):
    data: list[MemberPublic]


class MemberUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role


class InvitationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=3, max_length=320)
    role: Role = "member"


class InvitationPublic(BaseModel):
    id: str
    project: str
    email: str
    role: Role
    created_at: datetime
    expires_at: datetime
    link: str | None = Field(None, description="the one-time link; only in the answer that creates it")


class InvitationsPublic(BaseModel):
    data: list[InvitationPublic]


class QueuePublic(BaseModel):
    generator: str
    queue: str
    queued: int
    running: int
    workers: int


class QueuesPublic(BaseModel):
    data: list[QueuePublic]
