"""``reel plugins``: the installed plugins and their generators, without starting the host.

Only settings and the plugin registry are imported (no database, broker or storage), so
the command answers in a fraction of a second.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

err = Console(stderr=True)


def generator_rows(registry: Any) -> list[dict[str, Any]]:
    """What the API's catalog says of each local generator (the same keys as ``GeneratorInfo``)."""
    rows = []
    for name, gen in registry.generators.items():
        plugin = registry.plugin_of[name]
        rows.append({
            "name": name, "kind": gen.kind, "title": gen.title, "description": gen.description,
            "plugin": plugin.name, "distribution": plugin.dist, "version": plugin.version,
            "params_schema": gen.params_schema(), "requirements": gen.requirements.to_dict(),
        })
    return rows


def plugins(as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """List installed plugins and their generators."""
    from reel_host.plugins import PluginError, load_plugins
    from reel_host.settings import get_settings

    s = get_settings()
    try:
        registry = load_plugins(None, only=s.load_plugins, block=s.block_plugins, trace=s.trace_plugins)
    except PluginError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    rows = generator_rows(registry)
    if as_json:
        typer.echo(json.dumps({"generators": rows, "failed": [p.to_dict() for p in registry.failed]}, indent=2))
        return
    table = Table("generator", "kind", "plugin", "distribution", "version")
    for row in rows:
        table.add_row(row["name"], row["kind"], row["plugin"] or "", row["distribution"] or "", row["version"] or "")
    Console().print(table)
    for failed in registry.failed:
        err.print(f"[yellow]skipped plugin {failed.name} ({failed.dist} {failed.version}): {failed.error}[/yellow]")
