"""Migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from reel_host.records.db import make_engine, migrate
from reel_host.records.models import Base

from tests.utils.stack import create_pg_database, drop_pg_database


def assert_schema_matches_models(url: str) -> None:
    engine = make_engine(url)
    try:
        migrate(engine)
        migrate(engine)  # idempotent: a second process starting finds nothing to do
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == [], f"models and migrations differ: {diff}"
    finally:
        engine.dispose()


def test_migrations__sqlite(tmp_path):
    assert_schema_matches_models(f"sqlite:///{tmp_path / 'reel.db'}")


@pytest.mark.postgres
def test_migrations__postgresql():
    name, url = create_pg_database()
    try:
        assert_schema_matches_models(url)
    finally:
        drop_pg_database(name)
