"""``reel openapi``: print the REST API's OpenAPI document (clients, the console's typed API)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import typer


def openapi() -> None:
    """Print the OpenAPI document of REST API v1 as JSON (no server, no database needed)."""
    from reel_host.api.app import create_app
    from reel_host.settings import Settings

    with tempfile.TemporaryDirectory() as home:
        app = create_app(Settings(home=Path(home), load_plugins="-"))
        typer.echo(json.dumps(app.openapi(), indent=2, sort_keys=True))
