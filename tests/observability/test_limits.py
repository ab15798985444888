"""Per-project limits on a real distributed stack: 429 + Retry-After, across two API processes."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.observability.helpers import start_api, wait_until
from tests.utils.stack import Stack, make_stack

ADMIN = "admin-" + secrets.token_hex(8)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with make_stack("distributed", tmp_path_factory.mktemp("limits"), {"REEL_ADMIN_KEY": ADMIN}) as s:
        yield s


def admin(stack: Stack) -> httpx.Client:
    return httpx.Client(base_url=stack.url + "/api/v1", timeout=30, headers={"Authorization": f"Bearer {ADMIN}"})


def put_limits(stack: Stack, project: str, **limits: Any) -> dict[str, Any]:
    with admin(stack) as c:
        r = c.put(f"/admin/projects/{project}/limits", json=limits)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def submit(base: str, key: str, generator: str = "test.gpu", **params: Any) -> httpx.Response:
    """test.gpu: no worker takes it here, so submitted tasks stay queued."""
    with httpx.Client(base_url=base + "/api/v1", headers={"Authorization": f"Bearer {key}"}, timeout=30) as c:
        return c.post("/tasks/submit", json={"generator": generator, "params": params or {"text": "x"}})


def test_limits__submission_rate_answers_429_with_retry_after_across_two_api_processes(stack):
    project, key = stack.new_project()
    put_limits(stack, project, submissions_per_minute=4)
    _, second = start_api(stack)
    answers = [submit(base, key) for base in (stack.url, second, stack.url, second, second, stack.url)]
    assert [r.status_code for r in answers] == [202, 202, 202, 202, 429, 429]
    refused = answers[4]
    assert refused.json()["error"]["code"] == "limit_submissions_per_minute"
    assert "4 submissions per minute" in refused.json()["error"]["message"]
    # one token comes back every 15 s
    assert 1 <= int(refused.headers["Retry-After"]) <= 15
    assert refused.headers["x-request-id"]
    # another project is not held back by this one's bucket
    _, other_key = stack.new_project()
    assert submit(second, other_key).status_code == 202


def test_limits__max_queued_refuses_until_a_task_leaves_the_queue(stack):
    project, key = stack.new_project()
    put_limits(stack, project, max_queued=2)
    first, _second = submit(stack.url, key), submit(stack.url, key)
    third = submit(stack.url, key)
    assert third.status_code == 429
    body = third.json()["error"]
    assert body["code"] == "limit_max_queued"
    assert body["details"] == [{"limit": "max_queued", "value": 2, "current": 2}]
    assert int(third.headers["Retry-After"]) >= 1
    with stack.client(key) as c:
        assert c.delete(f"/tasks/{first.json()['id']}/cancel").status_code == 200
    assert submit(stack.url, key).status_code == 202


def test_limits__storage_bytes_refuses_once_outputs_fill_it(stack):
    project, key = stack.new_project()
    stack.start_worker("testplugin", pool="limits")
    task = submit(stack.url, key, "test.echo", text="twelve bytes").json()
    assert stack.follow(task["id"], key=key)["status"] == "succeeded"
    limits = put_limits(stack, project, storage_bytes=12)
    assert limits["usage"]["storage_bytes"] == 12
    refused = submit(stack.url, key, "test.echo", text="more")
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "limit_storage_bytes"
    put_limits(stack, project, storage_bytes=13)
    assert submit(stack.url, key, "test.echo", text="more").status_code == 202


def test_limits__admin_rest_validates_and_needs_the_admin_key(stack):
    project, key = stack.new_project()
    with admin(stack) as c:
        assert c.get(f"/admin/projects/{project}/limits").json()["submissions_per_minute"] is None
        bad = c.put(f"/admin/projects/{project}/limits", json={"max_queued": -1})
        assert bad.status_code == 422 and "max_queued" in bad.json()["error"]["message"]
        unknown = c.put(f"/admin/projects/{project}/limits", json={"max_qeued": 3})
        assert unknown.status_code == 422
        assert c.put("/admin/projects/nope/limits", json={}).status_code == 404
    with stack.client(key) as c:
        assert c.put(f"/admin/projects/{project}/limits", json={"max_queued": 1}).status_code == 403


def test_limits__cli_set_limits_changes_only_what_it_is_given(stack):
    project, _ = stack.new_project()
    put_limits(stack, project, max_queued=7)
    env = {**os.environ, **stack.env}
    done = subprocess.run(
        [sys.executable, "-m", "reel_host.cli.main", "projects", "set-limits", project,
         "--submissions-per-minute", "30", "--storage-bytes", "2GiB"],
        env=env, capture_output=True, text=True, cwd=stack.tmp, timeout=120)
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert (shown["submissions_per_minute"], shown["max_queued"], shown["storage_bytes"]) == (30, 7, 2 * 2**30)
    with admin(stack) as c:
        assert c.get(f"/admin/projects/{project}/limits").json()["storage_bytes"] == 2 * 2**30
    cleared = subprocess.run(
        [sys.executable, "-m", "reel_host.cli.main", "projects", "set-limits", project, "--max-queued", "none"],
        env=env, capture_output=True, text=True, cwd=stack.tmp, timeout=120)
    assert cleared.returncode == 0, cleared.stderr
    assert json.loads(cleared.stdout)["max_queued"] is None


def test_limits__max_running_holds_tasks_in_the_queue_across_two_api_processes(stack):
    project, key = stack.new_project()
    put_limits(stack, project, max_running=1)
    stack.start_worker("testplugin", pool="cap", args=["--concurrency", "2"])  # room for more than one
    _, second = start_api(stack)
    params = {"text": "held", "steps": 3, "step_s": 0.3}
    tasks = [submit(base, key, "test.echo", **params).json() for base in (stack.url, second, second)]

    def statuses() -> list[dict[str, Any]]:
        with stack.client(key) as c:
            return [c.get(f"/tasks/{t['id']}/status").json() for t in tasks]

    now = wait_until(lambda: (s := statuses()) and any(t["status"] == "running" for t in s) and s)
    running = [t for t in now if t["status"] == "running"]
    waiting = [t for t in now if t["status"] == "queued"]
    assert len(running) == 1 and len(waiting) == 2
    assert all("max_running" in t["message"] for t in waiting), waiting
    done = [stack.follow(t["id"], key=key) for t in tasks]
    assert [t["status"] for t in done] == ["succeeded"] * 3
    runs = sorted((datetime.fromisoformat(t["started_at"]), datetime.fromisoformat(t["finished_at"])) for t in done)
    for (_, finished), (started, _) in zip(runs, runs[1:], strict=False):
        assert started >= finished, runs  # one at a time: each started after the previous finished
