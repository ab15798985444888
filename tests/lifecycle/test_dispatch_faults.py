"""Nothing lost between the records and the broker: crashes, broker outages, lost messages.

The records say what must run; the broker only carries it. Each test breaks the
carrying in one way and checks that every task still runs, exactly once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from reel_host.lifecycle import dispatch

from tests.utils.servers import PrivateRedis
from tests.utils.stack import Stack, make_stack

KILL_BEFORE_PUBLISH = """
import os, sys
from reel_host.lifecycle import dispatch
from reel_host.runtime import Runtime
from reel_host.schemas.tasks import TaskCreate
from reel_host.services import tasks
from reel_host.services.catalog import WorkerView
from reel_host.settings import Settings

def die(rt, task_id, *args, **kwargs):  # the record is committed; the message is never sent
    print(task_id, flush=True)
    os._exit(9)

dispatch.send = die
rt = Runtime(Settings())
with rt.sessions() as session:
    tasks.submit_task(session, rt, WorkerView(), "default",
                      TaskCreate(generator="test.echo", params={"text": "orphan"}), None)
print("published?!", flush=True)
"""


@pytest.mark.parametrize("mode", ["embedded", "distributed"])
def test_process_killed_between_commit_and_publish__task_still_runs(stack: Stack, mode: str) -> None:
    if stack.mode != mode:
        pytest.skip("runs once per mode")
    env = {**os.environ, **stack.env}
    out = subprocess.run([sys.executable, "-c", KILL_BEFORE_PUBLISH], env=env, capture_output=True, text=True,
                         cwd=stack.tmp, timeout=120)
    assert out.returncode == 9, out.stderr[-3000:]
    task_id = out.stdout.strip()
    assert task_id.startswith("tsk_")
    done = stack.follow(task_id, timeout=60)  # the reconciler finds the queued task no queue holds
    assert (done["status"], done["attempts"]) == ("succeeded", 1), done


@pytest.fixture(scope="module")
def flaky_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, PrivateRedis]]:
    tmp = tmp_path_factory.mktemp("flaky-broker")
    redis = PrivateRedis(tmp)
    redis.start()
    try:
        with make_stack("distributed", tmp, broker_url=redis.url) as stack:
            yield stack, redis
    finally:
        redis.stop()


def assert_all_succeed_first_time(stack: Stack, ids: list[str], pool: str) -> None:
    """Start a worker and see every task succeed on its first attempt."""
    worker = stack.start_worker("testplugin", pool=pool)
    try:
        finals = [stack.follow(task_id, timeout=90) for task_id in ids]
    finally:
        worker.stop()
    assert [(f["status"], f["attempts"]) for f in finals] == [("succeeded", 1)] * len(ids)


def test_broker_down_at_submit__task_queued_not_failed__runs_when_back(flaky_broker) -> None:
    stack, redis = flaky_broker
    redis.stop()
    task = stack.submit(params={"text": "patient"})  # answers at once, without the broker
    with stack.client() as c:
        assert c.get(f"/tasks/{task['id']}/status").json()["status"] == "queued"
    redis.start()
    worker = stack.start_worker("testplugin", pool="after-outage")
    try:
        done = stack.follow(task["id"], timeout=60)
        assert (done["status"], done["attempts"], done["error"]) == ("succeeded", 1, None), done
    finally:
        worker.stop()


def test_redis_restart_without_persistence__every_queued_task_recovered(flaky_broker) -> None:
    stack, redis = flaky_broker
    ids = [stack.submit(params={"text": f"t{i}"})["id"] for i in range(20)]  # no worker: they wait in Redis
    redis.restart()  # every message gone; the records still have all 20
    assert_all_succeed_first_time(stack, ids, pool="after-restart")
    with stack.runtime.sessions() as session:
        from reel_host.records.models import TaskAttempt
        from sqlalchemy import func, select

        runs = session.scalar(select(func.count()).select_from(TaskAttempt).where(TaskAttempt.task_id.in_(ids)))
    assert runs == 20  # each ran exactly once


def _record_until(stack: Stack, task_id: str, predicate, timeout: float = 60):  # type: ignore[no-untyped-def]
    """The task's record once ``predicate`` holds (read from the records: the retry's wait is the state
    under test, and an event stream on a loaded machine may start after it began)."""
    import time

    from reel_host.records.models import Task

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with stack.runtime.sessions() as session:
            row = session.get(Task, task_id)
        if row is not None and predicate(row):
            return row
        time.sleep(0.05)
    raise AssertionError(f"task {task_id} never matched; last {row.status if row else None}")


def test_worker_killed_while_its_transient_retry_waits__retry_still_runs(tmp_path: Path) -> None:
    state = tmp_path / "runs.txt"
    # a backoff long enough for the event stream to see the wait even on a loaded machine
    with make_stack("distributed", tmp_path, {"REEL_RETRY_BACKOFF_S": "8"}) as stack:
        first = stack.start_worker("testplugin", pool="first")
        task = stack.submit(params={"text": "again", "fail_first": 1, "state_file": str(state)})
        waiting = _record_until(stack, task["id"], lambda t: t.status == "queued" and t.attempts == 2)
        assert "retrying" in (waiting.message or "")
        first.kill_group(signal.SIGKILL)  # nothing of the retry lived in this worker
        stack.start_worker("testplugin", pool="second")
        done = stack.follow(task["id"], timeout=60)
    assert (done["status"], done["attempts"]) == ("succeeded", 2), done


def test_submit_answers_fast_while_the_broker_is_away(flaky_broker) -> None:
    """Payload's hook waits for the submit's answer: no broker retry loop may hold it."""
    stack, redis = flaky_broker
    redis.stop()
    try:
        # a hung submit raises here (the client's timeout), a fast one answers 202
        with httpx.Client(base_url=stack.url + "/api/v1", timeout=10,
                          headers={"Authorization": f"Bearer {stack.key}"}) as c:
            r = c.post("/tasks/submit", content=json.dumps({"generator": "test.echo", "params": {"text": "q"}}),
                       headers={"content-type": "application/json"})
        assert r.status_code == 202, r.text
        assert r.json()["status"] == "queued"
    finally:
        redis.start()


def test_broker_down_at_batch_submit__one_publish_tried__all_queued__all_run_when_back(
        flaky_broker, monkeypatch: pytest.MonkeyPatch) -> None:
    stack, redis = flaky_broker
    tries: list[str] = []
    real_send = dispatch.send

    def counted_send(rt, task_id, *args, **kwargs):  # type: ignore[no-untyped-def]
        if threading.current_thread().name != "reel-reconciler":  # the request's publishes only
            tries.append(task_id)
        return real_send(rt, task_id, *args, **kwargs)

    monkeypatch.setattr(dispatch, "send", counted_send)  # the stack's API runs in this process
    redis.stop()
    with stack.client() as c:
        r = c.post("/tasks/submit_batch", json={"tasks": [{"generator": "test.echo", "params": {"text": f"b{i}"}}
                                                          for i in range(20)]})
        assert r.status_code == 200, r.text
        ids = [item["task"]["id"] for item in r.json()["data"]]
        assert [c.get(f"/tasks/{i}/status").json()["status"] for i in ids] == ["queued"] * 20
    assert len(tries) == 1  # the first failed publish stops the batch's: no retry loop per task
    redis.start()  # the reconciler sends them all (the request marked them unsent)
    assert_all_succeed_first_time(stack, ids, pool="after-batch-outage")
