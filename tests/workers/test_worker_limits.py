"""Long-task safety on real workers: time limits, forced cancel, pool children that die."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.utils.stack import Stack, make_stack

LIMITS = {"REEL_CANCEL_GRACE_S": "0.5", "REEL_WORKER_LOST_MAX": "2"}


@pytest.fixture(scope="module", params=["embedded", "distributed"])
def limits_stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One worker (one pool child) with a short cancel grace and at most 2 re-runs of a lost task."""
    with make_stack(request.param, tmp_path_factory.mktemp(f"limits-{request.param}"), LIMITS) as s:
        s.start_worker("testplugin", pool="limits")
        yield s


def attempts_of(stack: Stack, task_id: str) -> list[dict]:
    with stack.client() as c:
        return c.get(f"/tasks/{task_id}/attempts").json()


def echo_pid(stack: Stack) -> str:
    """The pid of the pool child that runs tasks now (test.echo reports it)."""
    done = stack.follow(stack.submit(params={"text": "pid"})["id"])
    assert done["status"] == "succeeded", done
    return done["outputs"][0]["metadata"]["model_pid"]


def test_time_limit__soft_limit_ends_the_task_failed(limits_stack):
    task = limits_stack.submit("test.slow", {"seconds": 30})
    done = limits_stack.follow(task["id"])
    assert done["status"] == "failed"
    assert done["error"] == {
        "code": "time_limit_exceeded",
        "message": "the task ran past its time limit of 2s and was stopped",
    }
    assert [a["status"] for a in attempts_of(limits_stack, task["id"])] == ["failed"]


def test_time_limit__a_run_that_ignores_it_is_killed_at_the_hard_limit(limits_stack):
    before = echo_pid(limits_stack)
    task = limits_stack.submit("test.slow", {"seconds": 30, "stubborn": True})
    done = limits_stack.follow(task["id"])
    assert done["status"] == "failed"
    assert done["error"]["code"] == "time_limit_exceeded"
    assert "time limit of 2s" in done["error"]["message"]
    assert "killed 2s after it ignored the soft limit" in done["error"]["message"]
    assert [a["status"] for a in attempts_of(limits_stack, task["id"])] == ["failed"]
    assert echo_pid(limits_stack) != before  # the killed child was replaced; the worker goes on


def test_cancel_task__running_and_ignoring_it__process_killed_after_grace(limits_stack):
    before = echo_pid(limits_stack)
    task = limits_stack.submit("test.slow", {"seconds": 1.8, "stubborn": True})
    limits_stack.follow(task["id"], until=("running",))
    with limits_stack.client() as c:
        assert c.delete(f"/tasks/{task['id']}/cancel").json()["status"] == "cancelled"
    after = echo_pid(limits_stack)  # runs once the stuck child is gone
    assert after != before
    worker_log = limits_stack.workers[0].log()
    assert f"task {task['id']} attempt 1 is cancelled but its process" in worker_log
    with limits_stack.client() as c:
        final = c.get(f"/tasks/{task['id']}/status").json()
    assert final["status"] == "cancelled" and final["outputs"] == []
    assert [(a["status"], a["error"]["code"]) for a in attempts_of(limits_stack, task["id"])] == [
        ("cancelled", "cancelled")
    ]


def test_pool_child_killed__task_redelivered_and_succeeds(limits_stack, tmp_path):
    state = tmp_path / "runs"
    task = limits_stack.submit(
        params={"text": "again", "crash": True, "fail_first": 1, "state_file": str(state), "outputs": 2}
    )
    done = limits_stack.follow(task["id"])
    assert done["status"] == "succeeded", done
    assert [o["name"] for o in done["outputs"]] == ["echo-0.txt", "echo-1.txt"]
    assert len(state.read_text().splitlines()) == 2
    runs = attempts_of(limits_stack, task["id"])
    assert [(a["number"], a["status"]) for a in runs] == [(1, "lost"), (1, "succeeded")]
    assert runs[0]["error"]["code"] == "worker_lost"


def test_pool_child_killed_every_time__fails_after_bounded_reruns(limits_stack, tmp_path):
    state = tmp_path / "runs"
    task = limits_stack.submit(
        params={"text": "oom", "crash": True, "fail_first": 10, "state_file": str(state)}
    )
    done = limits_stack.follow(task["id"], timeout=120)
    assert done["status"] == "failed"
    assert done["error"]["code"] == "worker_lost_repeatedly"
    assert "its worker process died 3 times (limit 2 re-runs" in done["error"]["message"]
    assert len(state.read_text().splitlines()) == 3  # the first run and 2 re-runs, then no more
    assert [a["status"] for a in attempts_of(limits_stack, task["id"])] == ["lost", "lost", "lost"]
    assert echo_pid(limits_stack)  # the worker itself lives on
