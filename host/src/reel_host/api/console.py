"""Serving the console: hashed assets with a year's cache, ``index.html`` for every client route.

The assets are built by ``scripts/setup.sh`` (``npm ci && npm run build`` in ``host/console``) into
``reel_host/console/static``. Their names carry a content hash, so they can be cached for good;
``index.html`` is never cached, so a new build is picked up at the next page load.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.types import Receive, Scope, Send

from reel_host.api.errors import error_response
from reel_host.errors import NotFound

STATIC = Path(__file__).resolve().parent.parent / "console" / "static"
RESERVED = ("api/", "docs", "openapi.json", "metrics", "redoc")
NOT_BUILT = """<!doctype html><html><head><title>Reel</title></head><body>
<h1>Reel</h1><p>The console is not built. Run <code>scripts/setup.sh</code> (it needs Node.js and npm),
or use the API at <a href="/docs">/docs</a>.</p></body></html>"""


def install_console(app: FastAPI, static: Path = STATIC) -> None:
    """Add the console: its assets route, and the router's fallback for client routes (never shadows a route)."""

    @app.get("/assets/{name:path}", include_in_schema=False)
    async def console_asset(name: str) -> Response:
        path = (static / "assets" / name).resolve()
        if not path.is_file() or (static / "assets").resolve() not in path.parents:
            raise NotFound(f"no console asset {name!r}")
        return FileResponse(path, headers={"Cache-Control": "public, max-age=31536000, immutable"})

    async def console_page(scope: Scope, receive: Receive, send: Send) -> None:
        """The router's fallback: runs only where no route matched, whatever order routes were added in."""
        path = scope.get("path", "/").lstrip("/")
        response: Response
        if scope["type"] != "http" or scope.get("method") not in ("GET", "HEAD") or path.startswith(RESERVED):
            response = error_response(404, "not_found", f"no route {scope.get('path')!r}")
        else:
            top = (static / path).resolve() if path else None
            index = static / "index.html"
            if top is not None and top.is_file() and top.parent == static.resolve():  # favicon and the like
                response = FileResponse(top, headers={"Cache-Control": "public, max-age=3600"})
            elif not index.is_file():
                response = HTMLResponse(NOT_BUILT, status_code=503, headers={"Cache-Control": "no-store"})
            else:
                response = FileResponse(index, media_type="text/html", headers={"Cache-Control": "no-cache"})
        await response(scope, receive, send)

    app.router.default = console_page
