"""A transaction's notifications go out together at its commit, and only then."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from reel_host.lifecycle.push import CHANNEL, notify
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from tests.utils.stack import create_pg_database, drop_pg_database


@pytest.fixture
def pg() -> Iterator[tuple[Engine, psycopg.Connection]]:
    name, url = create_pg_database()
    engine = create_engine(url)
    listener = psycopg.connect(engine.url.set(drivername="postgresql").render_as_string(hide_password=False),
                               autocommit=True)
    listener.execute(f"LISTEN {CHANNEL}")
    try:
        yield engine, listener
    finally:
        listener.close()
        engine.dispose()
        drop_pg_database(name)


def heard(listener: psycopg.Connection) -> list[str]:
    return [note.payload for note in listener.notifies(timeout=0.3)]


def test_the_notes_of_a_transaction_go_out_in_one_statement_in_order(pg) -> None:
    engine, listener = pg
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda _c, _cur, stmt, *_a: statements.append(stmt))
    with Session(engine) as session:
        for n in range(100):
            notify(session, f"tsk_{n}", "queued")
        assert heard(listener) == []  # nothing before the commit
        session.commit()
    assert heard(listener) == [f"tsk_{n} queued" for n in range(100)]
    assert sum("pg_notify" in s for s in statements) == 1


def test_a_rolled_back_or_abandoned_transaction_tells_nobody(pg) -> None:
    engine, listener = pg
    with Session(engine) as session:
        notify(session, "tsk_rolled", "succeeded")
        session.rollback()
        notify(session, "tsk_closed", "succeeded")
        session.close()  # never committed
        session.commit()  # the session lives on: a later commit must not send the old notes
    assert heard(listener) == []
    with Session(engine) as session:
        notify(session, "tsk_next", "running")
        session.commit()
    assert heard(listener) == ["tsk_next running"]
