"""``reel doctor``: check this installation; exit code 1 when something is broken."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console

MARKS = {"ok": "[green]ok  [/green]", "warn": "[yellow]warn[/yellow]", "fail": "[red]FAIL[/red]"}


def doctor(
    plugins: Annotated[str | None, typer.Option("--plugins", help="pins a worker here would use")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Check database, broker, storage, plugins and pins, GPUs, production settings and cached models."""
    from reel_host.doctor import run_checks

    checks = []
    console = Console()
    for check in run_checks(plugins):
        checks.append(check)
        if not as_json:
            console.print(f"{MARKS[check.status]} [bold]{check.name:<10}[/bold] {check.detail}", highlight=False)
            if check.fix and check.status != "ok":
                console.print(f"     {'':<10} [dim]fix:[/dim] {check.fix}", highlight=False)
    if as_json:
        typer.echo(json.dumps([c.to_dict() for c in checks], indent=2))
    if any(c.status == "fail" for c in checks):
        raise typer.Exit(1)
