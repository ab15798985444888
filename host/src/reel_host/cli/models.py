"""``reel models list|pull|rm``: the models installed generators can use, and the local cache.

``pull`` downloads a model into the Hugging Face cache the generators load from, with a
progress bar, before the first task needs it (what ``ollama pull`` users expect). A
model that cannot be fetched because the network or the Hub is unreachable exits 75
(EX_TEMPFAIL: try again later) and names the cause; a model the Hub does not have exits 2.
"""

from __future__ import annotations

import json
import shutil
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from reel_host.models_cache import hub_cache_dir, locate

models_app = typer.Typer(help="Models of the installed generators: list, pull ahead of time, remove.",
                         no_args_is_help=True)
err = Console(stderr=True)
EX_TEMPFAIL = 75


def known_models() -> list[dict[str, Any]]:
    """Per installed generator: its default model and the others it lists, each with its cache state."""
    from reel_host.plugins import load_plugins
    from reel_host.settings import get_settings

    s = get_settings()
    registry = load_plugins(None, only=s.load_plugins, block=s.block_plugins)
    rows = []
    for name, gen in sorted(registry.generators.items()):
        try:
            default = gen.model_key(gen.Params.model_construct())
        except Exception:
            default = None
        for model in dict.fromkeys([m for m in [default, *gen.models()] if m and "/" in m]):
            where = locate(model)
            rows.append({"generator": name, "model": model, "default": model == default,
                         "cached": where.cached, "bytes": where.bytes})
    return rows


@models_app.command("list")
def list_models(as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """Models each installed generator can use, and which are in the local cache (with sizes)."""
    rows = known_models()
    if as_json:
        typer.echo(json.dumps({"cache": str(hub_cache_dir()), "models": rows}, indent=2))
        return
    table = Table("generator", "model", "default", "cached", "size")
    for r in rows:
        table.add_row(r["generator"], r["model"], "yes" if r["default"] else "",
                      "yes" if r["cached"] else "no", _size(r["bytes"]) if r["cached"] else "")
    Console().print(table)
    err.print(f"cache: {hub_cache_dir()}")


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{n} B"
        n /= 1024  # type: ignore[assignment]
    return f"{n} B"


def unreachable_cause(exc: BaseException) -> str | None:
    """Why the Hub could not be reached, or None when the error is about the model itself."""
    from huggingface_hub import constants
    from huggingface_hub.errors import OfflineModeIsEnabled

    if isinstance(exc, OfflineModeIsEnabled) or constants.HF_HUB_OFFLINE:
        return "offline mode is on (HF_HUB_OFFLINE=1): unset it on a machine with network"
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or current.__context__
    names = " ".join(type(e).__name__ for e in chain)
    if any(word in names for word in ("Connect", "Timeout", "NetworkError", "ProtocolError")) or any(
            isinstance(e, OSError) and not isinstance(e, FileNotFoundError) and e.errno is not None for e in chain):
        return f"cannot reach {constants.ENDPOINT}: {chain[-1]}"
    return None


@models_app.command("pull")
def pull(model: str, revision: Annotated[str | None, typer.Option(help="branch, tag or commit")] = None) -> None:
    """Download MODEL (a Hub id) into the local cache, with a progress bar."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError, RevisionNotFoundError

    if not any(r["model"] == model for r in known_models()):
        err.print(f"[yellow]note: no installed generator lists {model}; pulling it anyway[/yellow]")
    try:
        path = snapshot_download(model, revision=revision)
    except (RepositoryNotFoundError, RevisionNotFoundError, GatedRepoError) as exc:
        err.print(f"[red]error:[/red] {model}: {type(exc).__name__}: {str(exc).splitlines()[0]}")
        raise typer.Exit(2) from None
    except Exception as exc:
        cause = unreachable_cause(exc)
        if cause is None:
            raise
        err.print(f"[red]cannot fetch {model}[/red] (transient, try again later): {cause}")
        raise typer.Exit(EX_TEMPFAIL) from None
    where = locate(model)
    typer.echo(f"{model}: {_size(where.bytes)} in {path}")


@models_app.command("rm")
def remove(model: str, yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask")] = False) -> None:
    """Remove MODEL from the local cache (workers download it again when a task needs it)."""
    where = locate(model)
    if not where.cached or where.path is None or model.startswith(("/", "./", "~")):
        err.print(f"{model} is not in the cache {hub_cache_dir()}")
        raise typer.Exit(1)
    if not yes and not typer.confirm(f"remove {model} ({_size(where.bytes)}) from {hub_cache_dir()}?"):
        raise typer.Exit(1)
    shutil.rmtree(where.path)
    typer.echo(f"removed {model} ({_size(where.bytes)})")
