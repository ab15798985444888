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
from reel_host.settings import Settings
from reel_host.signing import Signer
from reel_host.storage import Storage, make_storage


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

    @property
    def registry(self) -> Registry:
        """Plugins, loaded once per process (never per request)."""
        if self._registry is None:
            s = self.settings
            self._registry = load_plugins(
                self.plugin_pins, only=s.load_plugins, block=s.block_plugins, trace=s.trace_plugins
            )
        return self._registry

    def migrate(self) -> None:
        migrate(self.engine)
