"""The task event stream: every event has an id; ``Last-Event-ID`` resumes without gaps or repeats;
a console login's cookie is accepted."""

from __future__ import annotations

import json

import httpx


def read_stream(url: str, headers: dict[str, str], cookies: httpx.Cookies | None = None) -> list[dict]:
    """Every event of one connection, until the server ends the stream."""
    events, current = [], {}
    with httpx.Client(timeout=60, cookies=cookies) as c, c.stream("GET", url, headers=headers) as r:
        assert r.status_code == 200, r.read()
        for line in r.iter_lines():
            if not line:
                if "data" in current:
                    events.append(current)
                current = {}
            elif line.startswith(":"):
                continue
            else:
                field, _, value = line.partition(":")
                current[field] = value.removeprefix(" ")
    return events


def test_events__ids_and_resume_after_last_event_id(console_stack, admin):
    task = admin.post("/tasks/submit", json={"generator": "test.echo",
                                             "params": {"text": "resume me", "steps": 4}}).json()
    url = f"{console_stack.url}/api/v1/tasks/{task['id']}/events"
    full = read_stream(url, {}, cookies=admin.cookies)  # by the login cookie
    assert full and all(e.get("id") for e in full)
    assert len({e["id"] for e in full}) == len(full)
    assert json.loads([e for e in full if e["event"] == "task"][-1]["data"])["status"] == "succeeded"
    logs = [json.loads(e["data"])["message"] for e in full if e["event"] == "log"]
    assert logs[0].startswith("echo starting") and logs[-1] == "echo done"

    # reconnect after each event in turn: what comes then is exactly the logs not yet seen and,
    # if the last state seen is not the final one, the final state once
    for cut in range(len(full)):
        seen = full[: cut + 1]
        rest = read_stream(url, {"Last-Event-ID": seen[-1]["id"], "Authorization": f"Bearer {console_stack.key}"})
        seen_logs = {json.loads(e["data"])["id"] for e in seen if e["event"] == "log"}
        rest_logs = [json.loads(e["data"])["id"] for e in rest if e["event"] == "log"]
        all_logs = [json.loads(e["data"])["id"] for e in full if e["event"] == "log"]
        assert sorted(seen_logs) + rest_logs == all_logs, cut
        states = [json.loads(e["data"]) for e in rest if e["event"] == "task"]
        if seen[-1] is full[-1]:
            assert rest == []
        else:
            assert len(states) <= 1
            last_seen_state = [e for e in seen if e["event"] == "task"]
            final = states[-1] if states else json.loads(last_seen_state[-1]["data"])
            assert final["status"] == "succeeded"


def test_events__garbage_last_event_id_replays_from_the_start(console_stack, admin):
    task = admin.post("/tasks/submit", json={"generator": "test.echo", "params": {"text": "x"}}).json()
    url = f"{console_stack.url}/api/v1/tasks/{task['id']}/events"
    console_stack.follow(task["id"])
    events = read_stream(url, {"Last-Event-ID": "not-an-id"}, cookies=admin.cookies)
    assert [e["event"] for e in events][-1] == "task"
    assert sum(e["event"] == "log" for e in events) == 2


def test_events__without_credentials_401(console_stack, admin):
    task = admin.post("/tasks/submit", json={"generator": "test.echo", "params": {"text": "x"}}).json()
    r = httpx.get(f"{console_stack.url}/api/v1/tasks/{task['id']}/events")
    assert r.status_code == 401
