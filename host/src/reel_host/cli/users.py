"""``reel users``: the first admin of a distributed deployment, invitations and password resets.

There is no mail: each command prints a one-time link that the operator hands over.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy import select

from reel_host.cli.admin import runtime
from reel_host.errors import ReelError
from reel_host.records.models import Membership, User
from reel_host.services import accounts

err = Console(stderr=True)
users_app = typer.Typer(help="Console accounts: create the admin, invite, reset passwords.", no_args_is_help=True)


def _fail(exc: ReelError) -> None:
    err.print(f"[red]error:[/red] {exc.message}")
    raise typer.Exit(1) from None


@users_app.command("create-admin")
def create_admin(email: str) -> None:
    """Make EMAIL an instance admin (creating the account) and print a one-time link to set its password."""
    rt = runtime()
    try:
        with rt.sessions() as session:
            user = accounts.find_user(session, email)
            if user is None:
                user = accounts.create_user(session, rt.settings, email, None, is_admin=True)
            user.is_admin = True
            token = accounts.create_reset(session, rt.settings, user)
            session.commit()
    except ReelError as exc:
        _fail(exc)
    err.print(f"{email} is an instance admin; this link sets the password (once, within "
              f"{rt.settings.reset_ttl_s // 3600} h):")
    typer.echo(accounts.link(rt.settings, "reset", token))


@users_app.command("invite")
def invite(
    email: str,
    project: Annotated[str, typer.Option("--project", "-p", help="the project to join")],
    role: Annotated[str, typer.Option(help="owner or member")] = "member",
) -> None:
    """Invite EMAIL into a project; prints the one-time link."""
    rt = runtime()
    try:
        with rt.sessions() as session:
            _, token = accounts.create_invitation(session, rt.settings, project, email, role)
            session.commit()
    except ReelError as exc:
        _fail(exc)
    typer.echo(accounts.link(rt.settings, "invite", token))


@users_app.command("reset-password")
def reset_password(email: str) -> None:
    """Print a one-time link that sets EMAIL's password (it also unlocks the account)."""
    rt = runtime()
    with rt.sessions() as session:
        user = accounts.find_user(session, email)
        if user is None:
            err.print(f"[red]error:[/red] no account for {email!r}")
            raise typer.Exit(1)
        token = accounts.create_reset(session, rt.settings, user)
        session.commit()
    typer.echo(accounts.link(rt.settings, "reset", token))


@users_app.command("list")
def list_users() -> None:
    """List accounts with their projects and roles."""
    rt = runtime()
    with rt.sessions() as session:
        for user in session.scalars(select(User).order_by(User.email_key)):
            roles = session.execute(select(Membership.project_id, Membership.role)
                                    .where(Membership.user_id == user.id).order_by(Membership.project_id))
            projects = ", ".join(f"{p}:{r}" for p, r in roles)
            typer.echo(f"{user.email}\t{'admin' if user.is_admin else '-'}\t{projects}")
