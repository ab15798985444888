"""A no-op task costs a handful of statements in the worker; this count must not creep up.

Counted with SQLAlchemy's cursor events around one in-process run of the test plugin's
``test.echo`` (one step, one output, one log line) on PostgreSQL: the claim (UPDATE …
RETURNING, the attempt row, the worker's current task, the push NOTIFY) and the outcome
(UPDATE … RETURNING, log lines, outputs, the attempt row, the worker's current task, the
push NOTIFY), two transactions in all. A submit is a few statements too, and so is a
batch submit of a hundred tasks (one INSERT, one NOTIFY for all). docs/performance.md
states the same figures.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from reel_host.lifecycle import dispatch
from reel_host.runtime import Runtime
from reel_host.schemas.tasks import TaskBatchCreate, TaskCreate
from reel_host.services import auth, tasks
from reel_host.services.catalog import WorkerView
from reel_host.worker.execute import TaskRunner
from sqlalchemy import event

from tests.utils.stack import FAST, create_pg_database, drop_pg_database, settings_from_env

STATEMENTS_PER_NOOP_TASK = 10
COMMITS_PER_NOOP_TASK = 2
STATEMENTS_PER_SUBMIT = 3  # the project's limits, the INSERT, the NOTIFY
STATEMENTS_PER_BATCH_OF_100 = 6


@pytest.fixture
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    name, url = create_pg_database()
    rt = Runtime(settings_from_env({**FAST, "REEL_DATABASE_URL": url, "REEL_HOME": str(tmp_path),
                                    "REEL_BROKER_URL": "redis://127.0.0.1:6379/13"}))
    monkeypatch.setattr(dispatch, "send", lambda *args, **kwargs: None)  # the run is called directly
    try:
        rt.migrate()
        with rt.sessions() as session:
            auth.create_project(session, "default")
            session.commit()
        yield rt
    finally:
        rt.engine.dispose()
        drop_pg_database(name)


def test_a_noop_task_takes_a_handful_of_statements(runtime: Runtime) -> None:
    runner = TaskRunner(runtime, "counting@host.1")
    statements: list[str] = []
    commits: list[int] = []

    def on_statement(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement.split(None, 1)[0])

    def on_commit(_conn) -> None:  # type: ignore[no-untyped-def]
        commits.append(1)

    for _ in range(2):  # the second run is the steady state (model cached, nothing lazily loaded)
        with runtime.sessions() as session:
            task, _created = tasks.submit_task(session, runtime, WorkerView(), "default",
                                               TaskCreate(generator="test.echo", params={"text": "x", "steps": 1}),
                                               None)
        statements.clear()
        commits.clear()
        event.listen(runtime.engine, "before_cursor_execute", on_statement)
        event.listen(runtime.engine, "commit", on_commit)
        try:
            assert runner.run(task.id, 1) == "succeeded"
        finally:
            event.remove(runtime.engine, "before_cursor_execute", on_statement)
            event.remove(runtime.engine, "commit", on_commit)
    assert len(statements) <= STATEMENTS_PER_NOOP_TASK, statements
    assert len(commits) <= COMMITS_PER_NOOP_TASK


@contextmanager
def counted(runtime: Runtime) -> Iterator[list[str]]:
    statements: list[str] = []

    def on_statement(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement.split(None, 1)[0])

    event.listen(runtime.engine, "before_cursor_execute", on_statement)
    try:
        yield statements
    finally:
        event.remove(runtime.engine, "before_cursor_execute", on_statement)


def steady_count(runtime: Runtime, submit: Callable[[], object]) -> list[str]:
    submit()  # the first one warms what is read once per process
    with counted(runtime) as statements:
        submit()
    return statements


def test_a_submit_and_a_batch_of_a_hundred_take_a_handful_of_statements(runtime: Runtime) -> None:
    def one() -> None:
        with runtime.sessions() as session:
            tasks.submit_task(session, runtime, WorkerView(), "default",
                              TaskCreate(generator="test.echo", params={"text": "x"}), None)

    def batch() -> None:
        items = [{"generator": "test.echo", "params": {"text": "x"}}] * 100
        with runtime.sessions() as session:
            answer = tasks.submit_batch(session, runtime, WorkerView(), "default", TaskBatchCreate(tasks=items))
        assert all(item.task is not None for item in answer.data)

    assert len(single := steady_count(runtime, one)) <= STATEMENTS_PER_SUBMIT, single
    assert len(many := steady_count(runtime, batch)) <= STATEMENTS_PER_BATCH_OF_100, many
