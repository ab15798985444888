"""Every endpoint of REST API v1, through a real server and real workers, in both modes."""

from __future__ import annotations

import json
import time

import httpx
import pytest

FIXED_PATHS = {
    "/api/v1/health": "get",
    "/api/v1/plugins": "get",
    "/api/v1/tasks/submit": "post",
    "/api/v1/tasks/{task_id}/status": "get",
    "/api/v1/tasks/{task_id}/events": "get",
    "/api/v1/tasks/{task_id}/cancel": "delete",
    "/api/v1/tasks/{task_id}/retry": "post",
    "/api/v1/projects/{project_id}/tasks": "get",
    "/api/v1/workers/status": "get",
}


def wait_until(predicate, timeout=30.0, every=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError("condition not met in time")


def test_openapi__lists_the_fixed_paths_with_clean_operation_ids(stack):
    spec = httpx.get(stack.url + "/openapi.json").json()
    for path, method in FIXED_PATHS.items():
        assert method in spec["paths"][path], path
    assert spec["paths"]["/api/v1/tasks/submit"]["post"]["operationId"] == "submit_task"
    assert httpx.get(stack.url + "/docs").status_code == 200


def test_health__open_and_reports_each_part(stack):
    body = httpx.get(stack.url + "/api/v1/health").json()
    assert body == {"status": "ok", "checks": {"database": "ok", "broker": "ok", "storage": "ok"}}


def test_plugins__show_generator_plugin_version_schema_and_carriers(stack):
    with stack.client() as c:
        data = {p["name"]: p for p in c.get("/plugins").json()["data"]}
    echo = data["test.echo"]
    assert echo["kind"] == "text"
    assert echo["plugin"] == "testplugin"
    assert echo["distribution"] == "reel-test-plugin"
    assert echo["version"] == "1.2.0"
    assert echo["params_schema"]["properties"]["text"]["type"] == "string"
    assert echo["queue"] == "reel.gen.test.echo"
    assert echo["workers"] >= 1
    assert data["test.gpu"]["workers"] == 0


def test_workers_status__shows_the_live_worker(stack):
    with stack.client() as c:
        workers = c.get("/workers/status").json()["data"]
    main = next(w for w in workers if w["pool"] == "main")
    assert main["status"] == "online"
    expected = {"name": "testplugin", "distribution": "reel-test-plugin", "version": "1.2.0"}
    assert expected.items() <= main["plugins"][0].items()
    assert "test.echo" in main["generators"]
    assert "reel.gen.test.echo" in main["queues"]
    assert main["skipped"][0]["name"] == "test.gpu"
    assert "GPU" in main["skipped"][0]["reason"]


def test_auth__missing_bad_or_malformed_keys_are_401(stack):
    assert httpx.get(stack.url + "/api/v1/plugins").status_code == 401
    r = httpx.get(stack.url + "/api/v1/plugins", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    assert httpx.get(stack.url + "/api/v1/plugins", headers={"Authorization": "Basic x"}).status_code == 401


@pytest.mark.parametrize(
    ("body", "status", "code", "named"),
    [
        ({"generator": "no.such", "params": {}}, 422, "unknown_generator", "no.such"),
        ({"generator": "test.echo", "params": {}}, 422, "invalid_params", "text"),
        ({"generator": "test.echo", "params": {"text": "x", "steps": 0}}, 422, "invalid_params", "steps"),
        ({"generator": "test.echo", "params": {"text": "x", "colour": 1}}, 422, "invalid_params", "colour"),
        ({"generator": "test.echo", "params": {"text": "x"}, "priority": 10}, 422, "invalid_request", "priority"),
        ({"params": {"text": "x"}}, 422, "invalid_request", "generator"),
        ({"generator": "test.echo", "callback": {"url": "not a url"}}, 422, "invalid_request", "callback.url"),
    ],
)
def test_submit__bad_input_is_a_4xx_naming_what_is_wrong(stack, body, status, code, named):
    with stack.client() as c:
        r = c.post("/tasks/submit", json=body)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["code"] == code
    assert named in error["message"] or any(named in json.dumps(d) for d in error["details"])


def test_submit__malformed_json_and_oversize_bodies_are_refused(stack):
    with stack.client() as c:
        r = c.post("/tasks/submit", content=b"{not json", headers={"Content-Type": "application/json"})
        assert r.status_code == 422
        big = {"generator": "test.echo", "params": {"text": "x" * (1024 * 1024 + 10)}}
        r = c.post("/tasks/submit", json=big)
        assert r.status_code == 413
        assert r.json()["error"]["code"] == "payload_too_large"


@pytest.mark.parametrize("task_id", ["nope", "tsk_" + "0" * 24, "x" * 300, "%2e%2e"])
def test_status__unknown_or_bad_ids_are_404(stack, task_id):
    with stack.client() as c:
        r = c.get(f"/tasks/{task_id}/status")
    assert r.status_code == 404
    assert r.json()["error"]["code"] in ("task_not_found", "not_found")


def test_idempotency__same_key_and_body_return_the_same_task(stack):
    body = {"generator": "test.echo", "params": {"text": "once"}}
    with stack.client() as c:
        first = c.post("/tasks/submit", json=body, headers={"Idempotency-Key": "k-1"})
        second = c.post("/tasks/submit", json=body, headers={"Idempotency-Key": "k-1"})
        other = c.post("/tasks/submit", json={**body, "params": {"text": "twice"}}, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"]
    assert second.headers["Idempotent-Replayed"] == "true"
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    _, key_b = stack.new_project()
    with stack.client(key_b) as c:
        in_b = c.post("/tasks/submit", json=body, headers={"Idempotency-Key": "k-1"})
    assert in_b.status_code == 202 and in_b.json()["id"] != first.json()["id"]


def test_waiting_for_worker__a_generator_no_worker_carries(stack):
    task = stack.submit("test.gpu", {"text": "x"})
    assert task["status"] == "queued"
    assert task["waiting_for_worker"] is True
    assert task["queue_position"] >= 1
    with stack.client() as c:
        c.delete(f"/tasks/{task['id']}/cancel")


def test_cancel__queued_task(stack):
    task = stack.submit("test.gpu", {"text": "x"})
    with stack.client() as c:
        r = c.delete(f"/tasks/{task['id']}/cancel")
        assert r.status_code == 200
        assert r.json()["status"] == "cancelled"
        again = c.delete(f"/tasks/{task['id']}/cancel")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "task_finished"


def test_cancel__running_task_stops_and_late_result_is_discarded(stack):
    task = stack.submit(params={"text": "long", "steps": 400, "step_s": 0.05})
    stack.follow(task["id"], until=("running",))
    with stack.client() as c:
        r = c.delete(f"/tasks/{task['id']}/cancel")
        assert r.status_code == 200 and r.json()["status"] == "cancelled"

        def attempt_closed():
            attempts = c.get(f"/tasks/{task['id']}/attempts").json()
            return attempts if attempts and attempts[-1]["finished_at"] else None

        attempts = wait_until(attempt_closed, timeout=20)
        final = c.get(f"/tasks/{task['id']}/status").json()
    assert attempts[-1]["status"] == "cancelled"
    assert final["status"] == "cancelled"
    assert final["outputs"] == []
    assert final["progress"] < 1


def test_retry__failed_task_runs_again_under_the_same_id(stack, tmp_path):
    state = tmp_path / "runs"
    task = stack.submit(params={"text": "again", "fail_first": 4, "state_file": str(state)})
    failed = stack.follow(task["id"])
    assert failed["status"] == "failed" and failed["attempts"] == 4
    with stack.client() as c:
        r = c.post(f"/tasks/{task['id']}/retry")
    assert r.status_code == 202
    assert r.json()["status"] == "queued"
    assert r.json()["attempts"] == 5
    done = stack.follow(task["id"])
    assert done["status"] == "succeeded"
    assert done["id"] == task["id"]
    assert done["error"] is None


def test_retry__cancelled_task_and_refused_for_others(stack):
    queued = stack.submit("test.gpu", {"text": "x"})
    ok = stack.submit(params={"text": "fine"})
    stack.follow(ok["id"])
    with stack.client() as c:
        c.delete(f"/tasks/{queued['id']}/cancel")
        r = c.post(f"/tasks/{queued['id']}/retry")
        assert r.status_code == 202 and r.json()["attempts"] == 2 and r.json()["status"] == "queued"
        c.delete(f"/tasks/{queued['id']}/cancel")
        refused = c.post(f"/tasks/{ok['id']}/retry")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "task_not_retryable"


def test_list_tasks__filters_and_cursor_pagination(stack):
    project, key = stack.new_project()
    ids = [stack.submit(params={"text": f"n{i}"}, client=stack.client(key))["id"] for i in range(5)]
    gpu = stack.submit("test.gpu", {"text": "x"}, client=stack.client(key))
    for task_id in ids:
        stack.follow(task_id, key=key)
    with stack.client(key) as c:
        seen, cursor = [], None
        while True:
            query = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            page = c.get(f"/projects/{project}/tasks", params=query).json()
            seen += [t["id"] for t in page["data"]]
            cursor = page["next"]
            if not cursor:
                break
        assert seen == list(reversed(ids + [gpu["id"]]))
        queued = c.get(f"/projects/{project}/tasks", params={"status": "queued"}).json()["data"]
        assert [t["id"] for t in queued] == [gpu["id"]]
        echo = c.get(f"/projects/{project}/tasks", params={"generator": "test.echo"}).json()["data"]
        assert sorted(t["id"] for t in echo) == sorted(ids)
        assert c.get(f"/projects/{project}/tasks", params={"status": "nonsense"}).status_code == 422
        assert c.get(f"/projects/{project}/tasks", params={"cursor": "!!"}).status_code == 400
        c.delete(f"/tasks/{gpu['id']}/cancel")


def test_isolation__another_projects_key_sees_nothing(stack):
    task = stack.submit(params={"text": "secret"})
    done = stack.follow(task["id"])
    _, key_b = stack.new_project()
    with stack.client(key_b) as c:
        assert c.get(f"/tasks/{task['id']}/status").status_code == 404
        assert c.get(f"/tasks/{task['id']}/events").status_code == 404
        assert c.get(f"/tasks/{task['id']}/logs").status_code == 404
        assert c.delete(f"/tasks/{task['id']}/cancel").status_code == 404
        assert c.post(f"/tasks/{task['id']}/retry").status_code == 404
        assert c.get("/projects/default/tasks").status_code == 404
    url = done["outputs"][0]["url"]
    assert httpx.get(url).status_code == 200
    token = url.rsplit("/", 1)[1]
    forged = url[: -len(token)] + token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert httpx.get(forged).status_code == 404


def test_events__sse_with_a_signed_token_instead_of_a_header(stack):
    task = stack.submit(params={"text": "sse", "steps": 3})
    with stack.client() as c:
        token = c.post(f"/tasks/{task['id']}/events/token").json()
    events = []
    with httpx.stream("GET", token["url"], timeout=30) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line.startswith("data:"):
                events.append(json.loads(line[5:]))
    statuses = [e["status"] for e in events if "status" in e]
    assert statuses[-1] == "succeeded"
    other = stack.submit(params={"text": "other"})
    bad = httpx.get(f"{stack.url}/api/v1/tasks/{other['id']}/events", params={"token": token["token"]})
    assert bad.status_code == 401
