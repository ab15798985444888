"""What a Reel process holds once: settings, database, broker, storage, plugins."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from celery import Celery
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from reel_host.plugins import Registry, load_plugins
from reel_host.queue.celery_app import make_celery
from reel_host.records.db import make_engine, make_sessionmaker, migrate
from reel_host.sealing import Sealer
from reel_host.settings import Settings
from reel_host.signing import Signer
from reel_host.storage import Storage, make_storage
from reel_host.throttle import Throttle


@dataclass
class Runtime:
    """Shared, lazily built parts of one process (API or worker)."""

    settings: Settings
    plugin_pins: str | None = None
    _registry: Registry | None = field(default=None, repr=False)

    @cached_property
    def engine(self) -> Engine:
        s = self.settings
        return make_engine(s.resolved_database_url, pool_size=s.db_pool_size, max_overflow=s.db_max_overflow,
                           pool_timeout_s=s.db_pool_timeout_s)

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return make_sessionmaker(self.engine)

    @cached_property
    def celery(self) -> Celery:
        return make_celery(self.settings)

    @cached_property
    def storage(self) -> Storage:
        return make_storage(self.settings)

    @cached_property
    def signer(self) -> Signer:
        return Signer(self.settings.resolved_secret_key())

    @cached_property
    def sealer(self) -> Sealer:
        """Seals and opens stored secrets (REEL_SEALING_KEYS)."""
        return Sealer(self.settings.resolved_sealing_keys())

    @cached_property
    def throttle(self) -> Throttle:
        """The process's limiter (its buckets live in the database, shared by every process)."""
        return Throttle(self)

    @property
    def registry(self) -> Registry:
        """Plugins, loaded once per process (never per request)."""
        if self._registry is None:
            s = self.settings
            self._registry = load_plugins(
                self.plugin_pins, only=s.load_plugins, block=s.block_plugins, trace=s.trace_plugins
            )
        return self._registry

    def __post_init__(self) -> None:
        from reel_host import redact

        s = self.settings
        redact.install([s.admin_key, s.secret_key, s.storage_secret_key, s.broker_url and _password(s.broker_url),
                        s.database_url and _password(s.database_url),
                        *(s.sealing_keys or "").split(",")])  # no credential of this process reaches a log line

    def migrate(self) -> None:
        migrate(self.engine)


def _password(url: str) -> str | None:
    from urllib.parse import urlsplit

    try:
        return urlsplit(url).password
    except ValueError:
        return None
