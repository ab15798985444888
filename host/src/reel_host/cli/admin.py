"""Operator commands that work on the records directly: migrate, projects (and their limits), keys."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from reel_host.errors import ReelError

if TYPE_CHECKING:
    from reel_host.runtime import Runtime

err = Console(stderr=True)
projects_app = typer.Typer(help="Create and list projects; set their limits.", no_args_is_help=True)
keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)


def runtime(migrate: bool = True) -> Runtime:
    """The host, imported here so that listing these commands stays quick."""
    from reel_host.runtime import Runtime
    from reel_host.settings import get_settings

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
    from reel_host.services import auth

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
    from sqlalchemy import select

    from reel_host.records.models import Project

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
    from datetime import UTC, datetime, timedelta

    from reel_host.services import auth

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
    from datetime import datetime

    from rich.table import Table

    from reel_host.services import auth

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
    from reel_host.services import auth

    rt = runtime()
    try:
        with rt.sessions() as session:
            record = auth.revoke_key(session, key_id)
            session.commit()
    except ReelError as exc:
        err.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from None
    typer.echo(f"revoked {record.id} ({record.prefix}…) of project {record.project_id}")


_SIZE_UNITS = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12,
               "ki": 2**10, "mi": 2**20, "gi": 2**30, "ti": 2**40}


def _limit(text: str | None, name: str, sizes: bool = False) -> int | None | str:
    """'none' clears a limit; sizes take k/M/G/T (decimal) or Ki/Mi/Gi/Ti (binary), with an optional B."""
    if text is None:
        return "keep"
    value = text.strip().lower().removesuffix("b")
    if value in ("none", "off", "unlimited", ""):
        return None
    number, unit = value, ""
    if sizes:
        for suffix in sorted(_SIZE_UNITS, key=len, reverse=True):
            if suffix and value.endswith(suffix):
                number, unit = value[: -len(suffix)], suffix
                break
    try:
        return int(float(number) * _SIZE_UNITS[unit])
    except ValueError:
        raise typer.BadParameter(f"--{name.replace('_', '-')}: expected a number or 'none', got {text!r}") from None


@projects_app.command("set-limits")
def set_limits(
    project: str,
    submissions_per_minute: Annotated[str | None, typer.Option(help="submits a minute; 'none'")] = None,
    max_queued: Annotated[str | None, typer.Option(help="queued tasks at once; 'none'")] = None,
    max_running: Annotated[str | None, typer.Option(help="running tasks at once; 'none'")] = None,
    storage_bytes: Annotated[str | None, typer.Option(help="stored output bytes, e.g. 50G; 'none'")] = None,
    retention_days: Annotated[str | None, typer.Option(help="delete outputs older than this; 'none'")] = None,
) -> None:
    """Change PROJECT's limits (options not given keep their value); prints them as JSON."""
    from reel_host.schemas.limits import ProjectLimitsUpdate
    from reel_host.services import limits

    given = {
        "submissions_per_minute": _limit(submissions_per_minute, "submissions_per_minute"),
        "max_queued": _limit(max_queued, "max_queued"),
        "max_running": _limit(max_running, "max_running"),
        "storage_bytes": _limit(storage_bytes, "storage_bytes", sizes=True),
        "retention_days": _limit(retention_days, "retention_days"),
    }
    rt = runtime()
    try:
        with rt.sessions() as session:
            current = limits.read_limits(session, project).model_dump(include=set(limits.LIMIT_FIELDS))
            merged: dict[str, Any] = {k: (current[k] if v == "keep" else v) for k, v in given.items()}
            result = limits.set_limits(session, project, ProjectLimitsUpdate(**merged))
    except ReelError as exc:
        err.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from None
    except ValueError as exc:  # pydantic: a negative or zero limit
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    typer.echo(result.model_dump_json(indent=2))


@projects_app.command("limits")
def show_limits(project: str) -> None:
    """Show PROJECT's limits and usage as JSON."""
    from reel_host.services import limits

    rt = runtime()
    try:
        with rt.sessions() as session:
            typer.echo(limits.read_limits(session, project).model_dump_json(indent=2))
    except ReelError as exc:
        err.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from None


def gc(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="only list what would be deleted")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Delete finished tasks (records and stored files) past their project's retention days."""
    import json

    from reel_host.services.retention import collect

    done = collect(runtime(), dry_run=dry_run)
    if as_json:
        typer.echo(json.dumps({"dry_run": dry_run, "tasks": done.tasks, "bytes": done.bytes, "failed": done.failed}))
    else:
        verb = "would delete" if dry_run else "deleted"
        typer.echo(f"{verb} {len(done.tasks)} tasks, {done.bytes} bytes of outputs")
    if done.failed:
        err.print(f"[yellow]{len(done.failed)} tasks could not be deleted (see the log); they are tried again[/yellow]")
        raise typer.Exit(1)
