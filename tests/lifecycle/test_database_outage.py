"""PostgreSQL stopped in the middle of a run of tasks: the API says 503, nothing is lost.

A private cluster on a free port (never the machine's own) is stopped hard while a worker
is claiming and finishing tasks, then started again. Claims that could not reach the
database put their message back, outcome writes are retried, the API answers 503 with
``Retry-After`` meanwhile, and every task ends ``succeeded`` without a restart.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx

from tests.utils.servers import PrivatePostgres
from tests.utils.stack import make_stack

OUTAGE_S = 4.0  # how long the database stays down (the fault being simulated, not a wait for a result)


def test_database_outage_mid_run__503_meanwhile__every_task_succeeds(tmp_path: Path) -> None:
    pg = PrivatePostgres(tmp_path)
    pg.start()
    try:
        with make_stack("distributed", tmp_path, database_url=pg.url) as stack:
            stack.start_worker("testplugin", pool="db-outage")
            ids = [stack.submit(params={"text": f"t{i}", "steps": 3, "step_s": 0.05})["id"] for i in range(30)]
            pg.stop("immediate")
            try:
                with httpx.Client(base_url=stack.url + "/api/v1", timeout=30,
                                  headers={"Authorization": f"Bearer {stack.key}"}) as c:
                    during = c.get(f"/tasks/{ids[-1]}/status")
                assert during.status_code == 503, during.text
                assert during.json()["error"]["code"] == "database_unavailable"
                assert during.headers["Retry-After"].isdigit()
                time.sleep(OUTAGE_S)
            finally:
                pg.start()
            finals = [stack.follow(task_id, timeout=120) for task_id in ids]
    finally:
        pg.remove()
    assert [f["status"] for f in finals] == ["succeeded"] * 30, [(f["id"], f["status"], f["error"]) for f in finals]


def test_database_outage_while_a_submit_waits__answers_the_committed_task_not_503(tmp_path: Path) -> None:
    """A 503 for a submit that was committed would invite the client to submit it again."""
    from reel_host.records.models import Task
    from sqlalchemy import select

    pg = PrivatePostgres(tmp_path)
    pg.start()
    try:
        with make_stack("distributed", tmp_path, database_url=pg.url) as stack:  # no worker: it stays queued
            answers: list[httpx.Response] = []

            def submit_and_wait() -> None:
                with httpx.Client(base_url=stack.url + "/api/v1", timeout=60,
                                  headers={"Authorization": f"Bearer {stack.key}"}) as c:
                    answers.append(c.post("/tasks/submit", json={"generator": "test.echo", "params": {"text": "w"}},
                                          headers={"Prefer": "wait=30"}))

            waiter = threading.Thread(target=submit_and_wait)
            waiter.start()
            hub = stack.api.app.state.task_hub
            deadline = time.monotonic() + 30
            while hub.subscribers() == 0 and time.monotonic() < deadline:  # committed, answered, now waiting
                time.sleep(0.02)
            assert hub.subscribers() == 1, "the submit never started waiting"
            with stack.runtime.sessions() as session:
                ids = list(session.scalars(select(Task.id)))
            pg.stop("immediate")
            try:
                waiter.join(60)
                assert not waiter.is_alive()
            finally:
                pg.start()
    finally:
        pg.remove()
    (answer,) = answers
    assert answer.status_code == 202, answer.text
    assert (answer.json()["id"], answer.json()["status"]) == (ids[0], "queued")


def test_database_lost_between_a_submits_commit_and_its_answer__answers_202_from_the_row(
        tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The answer's extras (queue position, live workers) need reads; the committed task does not."""
    from reel_host.services.catalog import WorkerView
    from sqlalchemy.exc import OperationalError

    def database_gone(*_args, **_kwargs):  # type: ignore[no-untyped-def]
        raise OperationalError("SELECT …", {}, Exception("server closed the connection unexpectedly"))

    with make_stack("embedded", tmp_path) as stack:
        monkeypatch.setattr(WorkerView, "carriers", database_gone)  # the first read after the commit
        with httpx.Client(base_url=stack.url + "/api/v1", timeout=30,
                          headers={"Authorization": f"Bearer {stack.key}"}) as c:
            one = c.post("/tasks/submit", json={"generator": "test.echo", "params": {"text": "a"}})
            batch = c.post("/tasks/submit_batch", json={"tasks": [{"generator": "test.echo", "params": {"text": "b"}}]})
        monkeypatch.undo()
        assert one.status_code == 202, one.text
        assert (one.json()["status"], one.json()["queue_position"]) == ("queued", None)
        assert batch.status_code == 200, batch.text
        (item,) = batch.json()["data"]
        assert item["task"]["status"] == "queued"
        with stack.client() as c:  # both are really there
            assert c.get(f"/tasks/{one.json()['id']}/status").json()["status"] == "queued"
            assert c.get(f"/tasks/{item['task']['id']}/status").json()["status"] == "queued"
