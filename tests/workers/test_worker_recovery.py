"""Whole workers dying or freezing mid-task: the task runs again elsewhere, once, fenced by attempt."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest
from reel_host.records.models import TaskAttempt, TaskOutput
from sqlalchemy import func, select

from tests.utils.stack import Stack, WorkerProcess, make_stack

QUICK_LOSS = {"REEL_HEARTBEAT_S": "0.3", "REEL_WORKER_LOST_AFTER_S": "2"}


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with make_stack("distributed", tmp_path_factory.mktemp("recovery"), QUICK_LOSS) as stack:
        stack.start_worker("testplugin", pool="a")
        stack.start_worker("testplugin", pool="b")
        yield stack


def status_of(stack: Stack, pool: str) -> str:
    with stack.client() as c:
        return next(w["status"] for w in c.get("/workers/status").json()["data"] if w["pool"] == pool)


def runs_of(stack: Stack, task_id: str) -> list[dict[str, Any]]:
    with stack.client() as c:
        return c.get(f"/tasks/{task_id}/attempts").json()


def worker_running(stack: Stack, task_id: str) -> WorkerProcess:
    pool = runs_of(stack, task_id)[-1]["worker"].split("@")[0]
    return next(w for w in stack.workers if w.pool == pool and w.proc.poll() is None)


def rows(stack: Stack, model: Any, task_id: str) -> int:
    with stack.runtime.sessions() as session:
        return int(
            session.scalar(select(func.count()).select_from(model).where(model.task_id == task_id)) or 0
        )


def test_worker_stops_heartbeating__shown_lost__its_task_rerun_and_late_writes_fenced(pair):
    task = pair.submit(params={"text": "frozen", "steps": 20, "step_s": 0.1, "outputs": 2})
    pair.follow(task["id"], until=("running",))
    frozen = worker_running(pair, task["id"])
    frozen.kill_group(signal.SIGSTOP)  # heartbeat and run both freeze, like a hung machine
    try:
        done = pair.follow(task["id"], timeout=30)
        assert status_of(pair, frozen.pool) == "lost"
    finally:
        frozen.kill_group(signal.SIGCONT)
    assert done["status"] == "succeeded", done
    assert done["attempts"] == 2
    runs = runs_of(pair, task["id"])
    assert [(r["number"], r["status"]) for r in runs] == [(1, "lost"), (2, "succeeded")]
    assert runs[0]["worker"].startswith(f"{frozen.pool}@") and not runs[1]["worker"].startswith(
        f"{frozen.pool}@"
    )
    assert runs[0]["error"]["code"] == "worker_lost"
    deadline = time.monotonic() + 15  # thawed: it beats again, and its stale run gives up
    while time.monotonic() < deadline:
        with pair.client() as c:
            me = next(w for w in c.get("/workers/status").json()["data"] if w["pool"] == frozen.pool)
        if me["status"] == "online" and me["current_task"] is None:
            break
        time.sleep(0.1)
    assert (me["status"], me["current_task"]) == ("online", None)
    with pair.client() as c:
        final = c.get(f"/tasks/{task['id']}/status").json()
    assert (final["status"], final["attempts"], final["progress"]) == ("succeeded", 2, 1.0)
    assert [o["name"] for o in final["outputs"]] == ["echo-0.txt", "echo-1.txt"]
    assert rows(pair, TaskOutput, task["id"]) == 2
    assert [(r["number"], r["status"]) for r in runs_of(pair, task["id"])] == [(1, "lost"), (2, "succeeded")]


def test_worker_sigkilled_mid_task__task_rerun_by_another_worker_once(pair):
    task = pair.submit(params={"text": "survivor", "steps": 20, "step_s": 0.1, "outputs": 2})
    pair.follow(task["id"], until=("running",))
    victim = worker_running(pair, task["id"])
    victim.kill_group(signal.SIGKILL)  # the main process and its pool children, at once
    done = pair.follow(task["id"], timeout=30)
    assert done["status"] == "succeeded", done
    assert done["attempts"] == 2
    assert [o["name"] for o in done["outputs"]] == ["echo-0.txt", "echo-1.txt"]
    runs = runs_of(pair, task["id"])
    assert [(r["number"], r["status"]) for r in runs] == [(1, "lost"), (2, "succeeded")]
    assert runs[0]["worker"].startswith(f"{victim.pool}@")
    assert "was lost" in runs[0]["error"]["message"]
    assert rows(pair, TaskOutput, task["id"]) == 2 and rows(pair, TaskAttempt, task["id"]) == 2
    assert status_of(pair, victim.pool) == "lost"
