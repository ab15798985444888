"""Running Reel: ``up`` (embedded, all in one), ``serve`` (API) and ``worker``."""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console

from reel_host.cli.supervisor import ChildSpec, Supervisor
from reel_host.observability import process as observe
from reel_host.paths import API_PREFIX
from reel_host.plugins import PluginError
from reel_host.runtime import Runtime
from reel_host.services import auth
from reel_host.services.auth import key_is_live
from reel_host.settings import Settings, get_settings

err = Console(stderr=True)


def _serve_api(rt: Runtime, host: str, port: int, workers: int = 1) -> None:
    import uvicorn

    from reel_host.api.app import create_app

    observe.api_started(rt.settings)
    # bounded: open event streams must not hold a stopping API (reel up kills it after its grace)
    options: dict[str, Any] = dict(host=host, port=port, log_level="info", access_log=False,
                                   timeout_graceful_shutdown=5, log_config=None)
    if workers > 1:  # each process builds its app from the same REEL_* settings and has its own push hub
        # several processes behind one port report one set of metrics (prometheus-client multiprocess mode)
        if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="reel-api-metrics-")
        # a process loads every plugin (torch, diffusers) before it answers: give it time to start
        uvicorn.run("reel_host.cli.run:api_process_app", factory=True, workers=workers,
                    timeout_worker_healthcheck=120, **options)
    else:
        uvicorn.run(create_app(runtime=rt), **options)


def api_process_app() -> Any:
    """The app factory of each process of ``reel serve --workers N``: its logging, then the app."""
    from reel_host.api.app import create_app

    settings = get_settings()
    observe.api_started(settings)
    return create_app(settings)


def default_api_workers(settings: Settings) -> int:
    """Several API processes on a multi-core machine with PostgreSQL; one with SQLite (embedded)."""
    if settings.resolved_database_url.startswith("sqlite"):
        return 1
    return max(1, min(os.cpu_count() or 1, 4))


def _dev_key(rt: Runtime) -> str:
    """The development key of the ``default`` project, kept in REEL_HOME across restarts."""
    path = rt.settings.home / "dev-key"
    with rt.sessions() as session:
        auth.ensure_project(session, "default")
        if path.exists() and key_is_live(session, path.read_text().strip()):
            session.commit()
            return path.read_text().strip()
        _, key = auth.create_key(session, "default", "development key")
        session.commit()
    path.write_text(key)
    path.chmod(0o600)
    return key


#: The ``reel`` commands ``reel up`` runs, one process each; a distributed deployment runs
#: the same set (tests/workers/test_docker_compose.py checks docker/docker-compose.yml).
UP_PROCESSES = ("serve", "worker", "callbacks")


def up_children(host: str, port: int) -> list[ChildSpec]:
    """The processes of the embedded mode: the API, one worker, the callback sender."""
    reel = [sys.executable, "-m", "reel_host.cli.main"]
    extra = {"serve": ["--host", host, "--port", str(port)]}
    return [ChildSpec(name, [*reel, name, *extra.get(name, [])]) for name in UP_PROCESSES]


def up(
    host: Annotated[str, typer.Option(envvar="REEL_HOST", help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="REEL_PORT", help="port to listen on")] = 8000,
) -> None:
    """Run Reel embedded: API, one worker and the callback sender; SQLite, local storage, no Redis.

    SIGTERM or Ctrl-C stops all of them (gracefully within REEL_UP_STOP_GRACE_S, then by
    force); one that dies is restarted with backoff.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("REEL_PUBLIC_URL", f"http://{host if host != '0.0.0.0' else '127.0.0.1'}:{port}")
    get_settings.cache_clear()
    settings = get_settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    rt = Runtime(settings)
    rt.migrate()
    key = _dev_key(rt)
    rt.engine.dispose()
    supervisor = Supervisor(
        up_children(host, port),
        env=dict(os.environ, REEL_HOME=str(settings.home.resolve())),
        grace_s=settings.up_stop_grace_s,
        backoff_s=settings.up_restart_backoff_s,
        backoff_max_s=settings.up_restart_backoff_max_s,
    )
    supervisor.start()
    url = settings.public_url.rstrip("/")
    typer.echo(f"Reel is up at {url}  (API docs: {url}/docs)")
    typer.echo("project: default")
    typer.echo(f"API key: {key}")
    typer.echo(f"try:     curl -H 'Authorization: Bearer {key}' {url}{API_PREFIX}/plugins")
    sys.stdout.flush()
    raise typer.Exit(supervisor.run())


def serve(
    host: Annotated[str, typer.Option(envvar="REEL_HOST", help="address to listen on")] = "0.0.0.0",
    port: Annotated[int, typer.Option(envvar="REEL_PORT", help="port to listen on")] = 8000,
    workers: Annotated[int | None, typer.Option(
        "--workers", envvar="REEL_API_WORKERS", min=1,
        help="API processes; default: CPU cores up to 4 with PostgreSQL, 1 with SQLite")] = None,
) -> None:
    """Run the API only (distributed mode: workers run elsewhere)."""
    rt = Runtime(get_settings())
    rt.migrate()
    _serve_api(rt, host, port, workers or default_api_workers(rt.settings))


def worker(
    plugins: Annotated[
        str | None, typer.Option("--plugins", help="pins, e.g. 'image==0.3.*,audio'; default all")
    ] = None,
    pool: Annotated[str | None, typer.Option(help="pool name to advertise")] = None,
    gpu: Annotated[str | None, typer.Option(help="NVML indices of GPUs to use, e.g. '0' or '0,1'")] = None,
    concurrency: Annotated[int | None, typer.Option(help="tasks run at once")] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="the pool's TOML file (see docs/operations.md)")
    ] = None,
    preload: Annotated[
        bool | None, typer.Option("--preload/--no-preload", help="load default models first")
    ] = None,
    cpu_fallback: Annotated[
        bool | None,
        typer.Option("--cpu-fallback/--no-cpu-fallback",
                     help="run generators too big for these GPUs on the CPU instead of not taking them"),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="show what it would take, take nothing")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="with --dry-run: print JSON")] = False,
    loglevel: Annotated[str | None, typer.Option(help="Celery log level")] = None,
    metrics_port: Annotated[int | None, typer.Option(help="serve Prometheus metrics on this port")] = None,
    events: Annotated[bool | None, typer.Option(
        "--events/--no-events", help="send Celery task events (Flower, `celery events`); default on")] = None,
) -> None:
    """Run a worker that takes the tasks of its plugins' generators."""
    from reel_host.worker.config import PoolConfig, PoolConfigError, load_pool_config, parse_gpus
    from reel_host.worker.main import plan_worker, run_worker

    try:
        cfg = load_pool_config(config) if config else PoolConfig()
        gpu_indices = parse_gpus(gpu) if gpu else cfg.gpus
        overrides = dict(cfg.settings)
        if cfg.time_limits:
            overrides["time_limits"] = {**get_settings().time_limits, **cfg.time_limits}
        if pool or cfg.pool:
            overrides["worker_pool"] = pool or cfg.pool
        if events is not None:
            overrides["task_events"] = events
        settings = Settings(**overrides) if overrides else get_settings()
    except (PoolConfigError, ValidationError) as exc:
        typer.echo(f"reel worker: {exc}", err=True)
        raise typer.Exit(2) from None
    observe.process_logging(settings, loglevel or cfg.loglevel or "INFO")  # before plugins and GPUs log
    pins = plugins if plugins is not None else cfg.plugins
    pins = pins if pins is not None else settings.worker_plugins
    rt = Runtime(settings, plugin_pins=pins)
    try:
        plan = plan_worker(rt, gpu_indices, exclude=set(cfg.exclude),
                           cpu_fallback=cpu_fallback if cpu_fallback is not None else cfg.cpu_fallback)
    except PluginError as exc:
        typer.echo(f"reel worker: {exc}", err=True)
        raise typer.Exit(2) from None
    except ValueError as exc:
        typer.echo(f"reel worker: bad GPU selection: {exc}", err=True)
        raise typer.Exit(2) from None
    if dry_run:
        if as_json:
            typer.echo(json.dumps({**plan.advert(), "device": plan.device, "worker": plan.worker_id,
                                   "visibility_timeout_s": plan.visibility_timeout_s,
                                   "cpu_fallback": plan.cpu_fallback}, indent=2))
        else:
            typer.echo(plan.summary())
        return
    observe.worker_started(settings, plan, metrics_port or cfg.metrics_port, loglevel or cfg.loglevel or "INFO")
    rt.migrate()
    run_worker(rt, plan, concurrency=concurrency or cfg.concurrency or settings.worker_concurrency,
               loglevel=loglevel or cfg.loglevel or "INFO",
               preload=bool(preload if preload is not None else cfg.preload))
