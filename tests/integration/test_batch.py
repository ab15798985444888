"""POST /tasks/submit_batch: many tasks in one request; each item answered with its task or its error."""

from __future__ import annotations

from tests.utils.stack import Stack


def test_batch__good_items_queued_bad_ones_fail_alone_keys_replay(stack: Stack) -> None:
    items = [
        {"generator": "test.echo", "params": {"text": "one"}, "idempotency_key": "batch-one"},
        {"generator": "test.echo", "params": {"text": ""}},                       # too short
        {"generator": "no.such", "params": {}},                                  # unknown generator
        {"generator": "test.echo", "params": {"text": "two"}, "priority": 9},
    ]
    with stack.client() as c:
        r = c.post("/tasks/submit_batch", json={"tasks": items})
        assert r.status_code == 200, r.text
        data = r.json()["data"]
        assert [d["index"] for d in data] == [0, 1, 2, 3]
        assert data[0]["task"]["status"] == "queued" and data[0]["replayed"] is False
        assert data[1]["task"] is None and data[1]["error"]["code"] == "invalid_params"
        assert "text" in data[1]["error"]["message"]
        assert data[2]["error"]["code"] == "unknown_generator"
        assert data[3]["task"]["priority"] == 9
        again = c.post("/tasks/submit_batch", json={"tasks": items[:1]}).json()["data"][0]
        assert again["replayed"] is True and again["task"]["id"] == data[0]["task"]["id"]
    for d in (data[0], data[3]):
        assert stack.follow(d["task"]["id"])["status"] == "succeeded"


def test_batch__limits_and_repeated_keys_are_clear_errors(stack: Stack) -> None:
    with stack.client() as c:
        r = c.post("/tasks/submit_batch", json={"tasks": []})
        assert r.status_code == 422 and "tasks" in r.json()["error"]["message"]
        many = [{"generator": "test.echo", "params": {"text": "x"}}] * (stack.runtime.settings.max_batch + 1)
        r = c.post("/tasks/submit_batch", json={"tasks": many})
        assert r.status_code == 422 and "REEL_MAX_BATCH" in r.json()["error"]["message"]
        twice = [{"generator": "test.echo", "params": {"text": "x"}, "idempotency_key": "same"}] * 2
        data = c.post("/tasks/submit_batch", json={"tasks": twice}).json()["data"]
        assert data[0]["task"] is not None and data[1]["error"]["code"] == "duplicate_idempotency_key"
