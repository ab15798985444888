"""``reel secrets``: sealing keys for secrets at rest (docs/security.md)."""

from __future__ import annotations

import typer
from rich.console import Console

from reel_host.callbacks.service import reseal_all
from reel_host.runtime import Runtime
from reel_host.sealing import SealingError, new_key
from reel_host.settings import get_settings

err = Console(stderr=True)
secrets_app = typer.Typer(help="Sealing of stored secrets (REEL_SEALING_KEYS).", no_args_is_help=True)


@secrets_app.command("rotate")
def rotate() -> None:
    """Re-seal every stored secret with the first key of REEL_SEALING_KEYS (then the old keys can go)."""
    rt = Runtime(get_settings())
    rt.migrate()
    try:
        with rt.sessions() as session:
            changed = reseal_all(session, rt.sealer)
    except SealingError as exc:
        err.print(f"[red]error:[/red] {exc}; keep every old key in REEL_SEALING_KEYS until rotate has run")
        raise typer.Exit(1) from None
    typer.echo(f"re-sealed the secrets of {changed} project(s)")


@secrets_app.command("new-key")
def make_key() -> None:
    """Print a fresh sealing key (put it first in REEL_SEALING_KEYS, then run `reel secrets rotate`)."""
    typer.echo(new_key())
