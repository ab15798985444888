"""Submit → run → succeed → download, through the real API and real Celery workers."""

from __future__ import annotations

import httpx


def test_submit_task__runs_and_outputs_download(stack):
    task = stack.submit(params={"text": "hello reel", "steps": 4, "outputs": 2})
    assert task["status"] == "queued"
    assert task["attempts"] == 1
    assert task["project"] == "default"
    done = stack.follow(task["id"])
    assert done["status"] == "succeeded", done
    assert done["progress"] == 1.0
    assert done["started_at"] and done["finished_at"]
    assert [o["name"] for o in done["outputs"]] == ["echo-0.txt", "echo-1.txt"]
    for output in done["outputs"]:
        assert output["media_type"] == "text/plain"
        assert output["bytes"] == len("hello reel")
        body = httpx.get(output["url"])
        assert body.status_code == 200
        assert body.text == "hello reel"


def test_task_logs__kept_with_the_task(stack):
    task = stack.submit(params={"text": "logged"})
    stack.follow(task["id"])
    with stack.client() as c:
        logs = c.get(f"/tasks/{task['id']}/logs").json()["data"]
    assert [line["message"] for line in logs] == ["echo starting: logged", "echo done"]


def test_bad_input_at_run_time__fails_at_once_without_retry(stack):
    task = stack.submit(params={"text": "x", "bad_input": True})
    done = stack.follow(task["id"])
    assert done["status"] == "failed"
    assert done["error"]["code"] == "invalid_input"
    assert "bad_input" in done["error"]["message"]
    assert done["attempts"] == 1


def test_transient_failure__retried_then_succeeds(stack, tmp_path):
    state = tmp_path / "runs"
    task = stack.submit(params={"text": "x", "fail_first": 2, "state_file": str(state)})
    done = stack.follow(task["id"], until=("succeeded", "failed"))
    assert done["status"] == "succeeded", done
    assert done["attempts"] == 3
    with stack.client() as c:
        attempts = c.get(f"/tasks/{task['id']}/attempts").json()
    assert [a["status"] for a in attempts] == ["retrying", "retrying", "succeeded"]
    assert attempts[0]["error"]["code"] == "transient_error"


def test_transient_failure__gives_up_after_the_retry_limit(stack, tmp_path):
    task = stack.submit(params={"text": "x", "fail_first": 9, "state_file": str(tmp_path / "runs")})
    done = stack.follow(task["id"], until=("succeeded", "failed"))
    assert done["status"] == "failed"
    assert done["error"]["code"] == "transient_error"
    assert "gave up after 4 tries" in done["error"]["message"]


def test_out_of_memory__retried(stack, tmp_path):
    task = stack.submit(params={"text": "x", "fail_first": 1, "fail_kind": "oom", "state_file": str(tmp_path / "r")})
    done = stack.follow(task["id"], until=("succeeded", "failed"))
    assert done["status"] == "succeeded"
    assert done["attempts"] == 2
