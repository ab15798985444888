"""``reel doctor``: what is wrong with this installation, and how to fix it.

Each check returns a :class:`Check` (ok, warn or fail, a detail and a fix). The checks
run in the order an operator would fix things: settings, database, broker, storage,
plugins (with the pins a worker would use), GPUs, production-only settings, default
models in the cache. Any ``fail`` makes the exit code 1.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reel_host.settings import Settings

OK, WARN, FAIL = "ok", "warn", "fail"


@dataclass
class Check:
    name: str
    status: str
    detail: str
    fix: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _guard(name: str, fn: Callable[[], Check], fix: str) -> Check:
    try:
        return fn()
    except Exception as exc:
        return Check(name, FAIL, f"{type(exc).__name__}: {exc}"[:500], fix)


def check_database(settings: Settings) -> Check:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy import text

    from reel_host.records.db import alembic_config, make_engine

    url = settings.resolved_database_url
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            current = MigrationContext.configure(conn).get_current_heads()
        heads = ScriptDirectory.from_config(alembic_config(url)).get_heads()
    finally:
        engine.dispose()
    shown = engine.url.render_as_string(hide_password=True)
    if set(current) != set(heads):
        return Check("database", WARN, f"{shown}: schema at {', '.join(current) or 'nothing'}, "
                     f"newest is {', '.join(heads)}", "run `reel migrate` (API and workers also migrate on start)")
    return Check("database", OK, f"{shown}, schema up to date ({', '.join(heads)})")


def check_broker(settings: Settings) -> Check:
    if settings.embedded_broker:
        path = (settings.home / "broker").resolve()
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".doctor"
        probe.write_text("ok")
        probe.unlink()
        return Check("broker", OK, f"embedded (files in {path})")
    import redis

    client = redis.Redis.from_url(settings.broker_url or "", socket_timeout=3, socket_connect_timeout=3)
    client.ping()
    info = client.info("server")
    return Check("broker", OK, f"{settings.broker_url.split('@')[-1] if settings.broker_url else ''} "
                 f"(Redis {info.get('redis_version', '?')})")


def check_storage(settings: Settings) -> Check:
    from reel_host.storage import make_storage

    make_storage(settings).check()
    return Check("storage", OK, settings.resolved_storage_url.split("?")[0])


def check_plugins(settings: Settings, pins: str | None) -> Check:
    from reel_host.plugins import PluginError, load_plugins

    try:
        registry = load_plugins(pins, only=settings.load_plugins, block=settings.block_plugins)
    except PluginError as exc:
        return Check("plugins", FAIL, str(exc), "install the pinned plugin versions, or change the pins")
    found = ", ".join(f"{p.name} {p.version or '?'} ({len(p.generators)} generators)" for p in registry.plugins)
    detail = (f"pins {pins!r}: " if pins else "") + (found or "none installed")
    if registry.failed:
        skipped = "; ".join(f"{f.name}: {f.error}" for f in registry.failed)
        return Check("plugins", WARN, f"{detail}; skipped: {skipped}", "fix or uninstall the plugins that fail")
    if not registry.plugins:
        return Check("plugins", WARN, "no plugin installed", "pip install reel-image (or another plugin)")
    return Check("plugins", OK, detail)


def check_gpus(_settings: Settings) -> Check:
    from reel_host.worker.gpus import probe_gpus

    gpus = probe_gpus()
    if not gpus:
        return Check("gpus", WARN, "no GPU visible through NVML: workers here run on the CPU (slowly)",
                     "install the NVIDIA driver (and the NVIDIA Container Toolkit in containers)")
    return Check("gpus", OK, "; ".join(
        f"[{g.index}] {g.name} {g.memory_free_mb}/{g.memory_total_mb} MiB free, driver {g.driver_version}, "
        f"CUDA {g.cuda_version}" for g in gpus))


def check_production(settings: Settings) -> Check:
    """What ``REEL_ENV=production`` refuses or an exposed deployment should not run with."""
    problems, fixes = [], []
    for name in ("secret_key", "admin_key", "database_url"):
        if not getattr(settings, name):
            problems.append(f"REEL_{name.upper()} unset")
            fixes.append(f"set REEL_{name.upper()}")
    if settings.embedded_broker:
        problems.append("embedded broker (one machine only)")
        fixes.append("set REEL_BROKER_URL=redis://...")
    if settings.callback_allow_private:
        problems.append("REEL_CALLBACK_ALLOW_PRIVATE=true (callbacks may reach internal addresses)")
        fixes.append("unset REEL_CALLBACK_ALLOW_PRIVATE")
    if not settings.metrics_token:
        problems.append("REEL_METRICS_TOKEN unset (/metrics open to loopback only)")
        fixes.append("set REEL_METRICS_TOKEN if Prometheus scrapes from another host")
    if not problems:
        return Check("production", OK, f"REEL_ENV={settings.env}; nothing production would refuse")
    status = FAIL if settings.env == "production" else WARN
    return Check("production", status, f"REEL_ENV={settings.env}: " + "; ".join(problems), "; ".join(fixes))


def check_models(settings: Settings, pins: str | None) -> Check:
    from reel_host.models_cache import hub_cache_dir, locate
    from reel_host.plugins import load_plugins

    registry = load_plugins(pins, only=settings.load_plugins, block=settings.block_plugins)
    cached: list[str] = []
    missing: list[str] = []
    for name, gen in sorted(registry.generators.items()):
        try:
            default = gen.model_key(gen.Params.model_construct())
        except Exception:
            continue
        where = locate(default)
        if where.path is None and not where.cached and "/" not in default:
            continue  # not a model that lives in the Hub cache
        (cached if where.cached else missing).append(
            f"{name}: {default}" + (f" ({where.bytes / 2**30:.1f} GiB)" if where.cached else ""))
    detail = f"cache {hub_cache_dir()}; cached: {', '.join(cached) or 'none'}"
    if missing:
        return Check("models", WARN, f"{detail}; not cached: {', '.join(missing)}",
                     "the first task of each downloads it (or pre-download with huggingface-cli download)")
    return Check("models", OK, detail)


def run_checks(pins: str | None = None) -> Iterator[Check]:
    """Every check, in order; settings that do not validate stop the rest."""
    from pydantic import ValidationError

    from reel_host.settings import Settings

    try:
        settings = Settings()
    except ValidationError as exc:
        problems = "; ".join(e["msg"] for e in exc.errors())
        yield Check("settings", FAIL, problems, "fix the REEL_* variables named above")
        return
    pins = pins if pins is not None else settings.worker_plugins
    yield Check("settings", OK, f"REEL_ENV={settings.env}, REEL_HOME={settings.home.resolve()}")
    yield _guard("database", lambda: check_database(settings),
                 "check REEL_DATABASE_URL and that the database server is up")
    yield _guard("broker", lambda: check_broker(settings), "check REEL_BROKER_URL and that Redis is up")
    yield _guard("storage", lambda: check_storage(settings),
                 "check REEL_STORAGE_URL and its credentials (see docs/storage.md)")
    yield _guard("plugins", lambda: check_plugins(settings, pins), "see docs/plugins.md")
    yield _guard("gpus", lambda: check_gpus(settings), "install nvidia-ml-py and the NVIDIA driver")
    yield check_production(settings)
    yield _guard("models", lambda: check_models(settings, pins), "see docs/generators")
