"""Operator commands that work on the records directly: migrate, projects, keys, plugins."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from reel_host.errors import ReelError
from reel_host.plugins import PluginError
from reel_host.records.models import Project
from reel_host.runtime import Runtime
from reel_host.services import auth
from reel_host.services.catalog import local_generators
from reel_host.settings import get_settings

err = Console(stderr=True)
projects_app = typer.Typer(help="Create and list projects.", no_args_is_help=True)
keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)


def runtime(migrate: bool = True) -> Runtime:
    rt = Runtime(get_settings())
    if migrate:
        rt.migrate()
    return rt


def migrate() -> None:
    """Bring the database schema up to date."""
    runtime()
    err.print("database is up to date")


@projects_app.command("create")
def create_project(name: str) -> None:
    """Create project NAME."""
    rt = runtime()
    try:
        with rt.sessions() as session:
            auth.create_project(session, name)
            session.commit()
    except ReelError as exc:
        err.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from None
    typer.echo(name)


@projects_app.command("list")
def list_projects() -> None:
    """List projects."""
    rt = runtime()
    with rt.sessions() as session:
        for project in session.scalars(select(Project).order_by(Project.id)):
            typer.echo(project.id)


@keys_app.command("create")
def create_key(
    project: Annotated[str, typer.Option("--project", "-p", help="the project the key belongs to")],
    name: Annotated[str | None, typer.Option(help="a label for the key")] = None,
    expires_in_days: Annotated[float | None, typer.Option(
        "--expires-in-days", help="the key stops working after this many days (default: never)")] = None,
) -> None:
    """Create an API key; prints the key alone on stdout (it is not shown again)."""
    rt = runtime()
    expires = datetime.now(UTC) + timedelta(days=expires_in_days) if expires_in_days is not None else None
    try:
        with rt.sessions() as session:
            _, key = auth.create_key(session, project, name, expires)
            session.commit()
    except ReelError as exc:
        err.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from None
    typer.echo(key)


@keys_app.command("list")
def list_keys(
    project: Annotated[str, typer.Option("--project", "-p", help="the project whose keys to list")],
) -> None:
    """List a project's keys: id, prefix, name, created, last used, expiry, revoked."""
    rt = runtime()
    try:
        with rt.sessions() as session:
            keys = auth.list_keys(session, project)
    except ReelError as exc:
        err.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from None
    table = Table("id", "prefix", "name", "created", "last used", "expires", "revoked")

    def when(d: datetime | None) -> str:
        return d.isoformat(timespec="seconds") if d else ""

    for k in keys:
        table.add_row(k.id, k.prefix, k.name or "", when(k.created_at), when(k.last_used_at), when(k.expires_at),
                      when(k.revoked_at))
    Console(width=200).print(table)


@keys_app.command("revoke")
def revoke_key(
    key_id: Annotated[str, typer.Argument(help="the key's id (key_...), as `reel keys list` shows")],
) -> None:
    """Revoke key ID; every API process refuses it within REEL_KEY_REVOCATION_POLL_S (1 s)."""
    rt = runtime()
    try:
        with rt.sessions() as session:
            record = auth.revoke_key(session, key_id)
            session.commit()
    except ReelError as exc:
        err.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from None
    typer.echo(f"revoked {record.id} ({record.prefix}…) of project {record.project_id}")


def plugins(as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """List installed plugins and their generators."""
    rt = Runtime(get_settings())
    try:
        infos = local_generators(rt)
    except PluginError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps({"generators": [i.to_dict() for i in infos.values()],
                               "failed": [p.to_dict() for p in rt.registry.failed]}, indent=2))
        return
    table = Table("generator", "kind", "plugin", "distribution", "version")
    for info in infos.values():
        table.add_row(info.name, info.kind, info.plugin or "", info.distribution or "", info.version or "")
    Console().print(table)
    for failed in rt.registry.failed:
        err.print(f"[yellow]skipped plugin {failed.name} ({failed.dist} {failed.version}): {failed.error}[/yellow]")
