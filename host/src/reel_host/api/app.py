"""The app factory: builds the FastAPI app and nothing else."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from reel_host import __version__
from reel_host.api.console import install_console
from reel_host.api.deps import KeyCache
from reel_host.api.errors import install_error_handlers
from reel_host.api.limits import BodyLimitMiddleware, InputSanityMiddleware
from reel_host.api.openapi import install_openapi
from reel_host.api.overload import OverloadGuard
from reel_host.api.routes import (
    admin_callbacks,
    admin_limits,
    auth,
    callbacks,
    files,
    health,
    members,
    ops,
    plugins,
    projects,
    results,
    tasks,
    workers,
)
from reel_host.api.shared_reads import SharedReads
from reel_host.lifecycle.dispatch import Reconciler
from reel_host.lifecycle.push import TaskHub
from reel_host.observability import http as observability
from reel_host.observability.celery import install_publish_headers
from reel_host.paths import API_PREFIX
from reel_host.runtime import Runtime
from reel_host.services.catalog import WorkerView
from reel_host.services.retention import RetentionSweeper
from reel_host.settings import Settings, get_settings

__all__ = ["API_PREFIX", "create_app"]


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    # the worker threads of this process, sized with its connection pool (REEL_API_THREADS)
    rt = app.state.runtime
    anyio.to_thread.current_default_thread_limiter().total_tokens = rt.settings.api_threads
    # dispatches due tasks, re-sends lost messages and reaps lost workers, even with no worker alive
    reconciler = Reconciler(rt).start() if rt.settings.api_reconciler else None
    app.state.task_hub.start()  # listening before the first request waits on a task
    retention = RetentionSweeper(rt).start()  # deletes finished tasks past their retention
    try:
        yield
    finally:
        retention.stop()
        if reconciler is not None:
            reconciler.stop()
        app.state.task_hub.stop()


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    """Build the API; plugins are loaded once here, never per request."""
    rt = runtime or Runtime(settings or get_settings())
    app = FastAPI(
        lifespan=_lifespan,
        title="Reel",
        version=__version__,
        description="Plugin-based GPU processor host: submit generation tasks, follow them, fetch outputs.",
        openapi_url="/openapi.json",
        docs_url="/docs",
        generate_unique_id_function=lambda route: route.name,
    )
    app.state.runtime = rt
    app.state.worker_view = WorkerView()
    s = rt.settings
    app.state.key_cache = KeyCache(s.key_cache_s, s.key_revocation_poll_s, s.key_last_use_every_s)
    app.state.task_hub = TaskHub(rt, poll_s=s.embedded_poll_s)
    app.state.shared_reads = SharedReads()
    _ = rt.registry  # discover plugins at start-up
    install_error_handlers(app)
    install_openapi(app)
    for module in (health, plugins, tasks, results, projects, workers, files, auth, members, ops):
        app.include_router(module.router, prefix=API_PREFIX)
    app.include_router(callbacks.router, prefix=API_PREFIX)
    app.include_router(admin_callbacks.router, prefix=API_PREFIX)
    app.include_router(admin_limits.router, prefix=API_PREFIX)  # per-project limits
    app.include_router(observability.router)  # GET /metrics at the root
    install_console(app)  # the router's fallback: client routes where no API route matched
    app.add_middleware(BodyLimitMiddleware, max_bytes=s.max_body_bytes)
    app.add_middleware(InputSanityMiddleware)
    app.add_middleware(OverloadGuard, max_in_flight=s.api_max_concurrency)
    origins = [o.strip().rstrip("/") for o in s.cors_origins.split(",") if o.strip()]
    if origins:  # none configured: no CORS headers at all, so browsers keep to the same origin
        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_methods=["*"], allow_credentials=True,
                           allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID", "Prefer",
                                          "X-CSRF-Token"],
                           expose_headers=["Retry-After", "Idempotent-Replayed", "X-Request-ID"])
    app.add_middleware(observability.ObservabilityMiddleware)  # outermost: request id, HTTP metrics
    install_publish_headers()  # the request id rides in Celery message headers
    return app
