"""Signed webhooks from a real stack to real HTTP receivers."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime

import httpx
from standardwebhooks import Webhook

from tests.callbacks.conftest import admin, deliveries, wait_deliveries
from tests.callbacks.receivers import Receiver

ALL = ["started", "progress", "succeeded", "failed", "cancelled"]


def events(requests) -> list[str]:
    return [r.json()["type"].removeprefix("task.") for r in requests]


def finished(requests) -> bool:
    return any(r.json()["type"] in ("task.succeeded", "task.failed", "task.cancelled") for r in requests)


def secret_of(stack) -> str:
    with stack.client() as c:
        r = c.get(f"/projects/{stack.project}/callbacks/secret")
    assert r.status_code == 200, r.text
    return r.json()["secret"]


def hand_verify(secret: str, request) -> bool:
    """Standard Webhooks verification written out by hand (independent of any library)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = (
        f"{request.headers['webhook-id']}.{request.headers['webhook-timestamp']}.".encode() + request.body
    )
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(sig == f"v1,{expected}" for sig in request.headers["webhook-signature"].split(" "))


def test_webhook__each_event_signed_in_order_carrying_the_task(cb_stack):
    receiver = Receiver().start()
    try:
        task = cb_stack.submit(
            params={"text": "hooked", "steps": 3, "step_s": 0.3, "outputs": 2},
            callback={"url": receiver.url(), "events": ALL},
        )
        requests = receiver.wait_for(finished)
        status = cb_stack.follow(task["id"])
    finally:
        receiver.stop()

    assert events(requests)[0] == "started" and events(requests)[-1] == "succeeded"
    assert set(events(requests)[1:-1]) == {"progress"}
    secret = secret_of(cb_stack)
    for req in requests:
        assert req.method == "POST" and req.headers["content-type"] == "application/json"
        Webhook(secret).verify(req.body, req.headers)  # raises on a bad signature
        assert hand_verify(secret, req)
        assert req.headers["webhook-id"].startswith("msg_")
    assert len({r.headers["webhook-id"] for r in requests}) == len(requests)
    last = requests[-1].json()["data"]
    for field in ("id", "project", "generator", "status", "progress", "attempts", "error", "params"):
        assert last[field] == status[field]
    assert [o["name"] for o in last["outputs"]] == ["echo-0.txt", "echo-1.txt"]
    assert httpx.get(last["outputs"][0]["url"]).text == "hooked"
    assert requests[0].json()["data"]["status"] == "running"

    rows = deliveries(cb_stack, task["id"])
    assert [r["id"] for r in rows if r["status"] == "delivered"] == [
        r.headers["webhook-id"] for r in requests
    ]
    assert all(r["attempts"][0]["status_code"] == 200 for r in rows if r["status"] == "delivered")


def test_webhook__only_the_chosen_events(cb_stack):
    receiver = Receiver().start()
    try:
        task = cb_stack.submit(
            params={"text": "x", "steps": 5}, callback={"url": receiver.url(), "events": ["succeeded"]}
        )
        requests = receiver.wait_for(finished)
    finally:
        receiver.stop()
    assert events(requests) == ["succeeded"]
    assert [d["event"] for d in deliveries(cb_stack, task["id"])] == ["succeeded"]


def test_progress__at_most_one_per_half_second(cb_stack):
    receiver = Receiver().start()
    try:
        task = cb_stack.submit(
            params={"text": "x", "steps": 30, "step_s": 0.05},
            callback={"url": receiver.url(), "events": ["progress", "succeeded"]},
        )
        requests = receiver.wait_for(finished)
    finally:
        receiver.stop()
    progress = [r for r in requests if r.json()["type"] == "task.progress"]
    span = progress[-1].at - progress[0].at
    assert 1 <= len(progress) <= span / 0.5 + 1.5, (len(progress), span)  # 30 reports, ~20 a second
    values = [r.json()["data"]["progress"] for r in progress]
    assert values == sorted(values) and values[-1] <= 1.0  # the final 1.0 rides on the outcome
    assert [r.json()["data"]["progress"] for r in requests if r.json()["type"] == "task.succeeded"] == [1.0]
    rows = [r for r in deliveries(cb_stack, task["id"]) if r["event"] == "progress"]
    sent = [datetime.fromisoformat(r["attempts"][0]["started_at"]) for r in rows]
    assert all((b - a).total_seconds() >= 0.49 for a, b in zip(sent, sent[1:], strict=False)), sent


def test_receiver_down_then_back__gets_every_event_in_order(cb_stack):
    receiver = Receiver()  # not started: connections are refused
    task = cb_stack.submit(params={"text": "x", "steps": 4, "step_s": 0.3},
                           callback={"url": receiver.url(), "events": ALL})
    cb_stack.follow(task["id"])
    rows = wait_deliveries(cb_stack, task["id"], lambda rows: rows and len(rows[0]["attempts"]) >= 2)
    assert rows[0]["event"] == "started" and rows[0]["status"] == "pending"
    assert rows[0]["attempts"][0]["status_code"] is None and "Connect" in rows[0]["attempts"][0]["error"]
    receiver.start()
    try:
        requests = receiver.wait_for(finished)
    finally:
        receiver.stop()
    # pending progress coalesced into the latest one: no backlog of stale progress
    assert events(requests) == ["started", "progress", "succeeded"]
    assert requests[1].json()["data"]["progress"] == 1.0
    rows = deliveries(cb_stack, task["id"])
    assert [r["status"] for r in rows if r["status"] != "superseded"] == ["delivered"] * 3


def test_receiver_answers_500__retried_with_the_same_webhook_id(cb_stack):
    answers = iter([500, 503, 200])
    receiver = Receiver(lambda _req: (next(answers, 200), {})).start()
    try:
        task = cb_stack.submit(
            params={"text": "x"}, callback={"url": receiver.url(), "events": ["succeeded"]}
        )
        requests = receiver.wait_for(lambda reqs: len(reqs) >= 3)
    finally:
        receiver.stop()
    assert len({r.headers["webhook-id"] for r in requests}) == 1
    rows = wait_deliveries(cb_stack, task["id"], lambda rows: rows[0]["status"] == "delivered")
    assert [a["status_code"] for a in rows[0]["attempts"]] == [500, 503, 200]
    assert [a["outcome"] for a in rows[0]["attempts"]] == ["retry", "retry", "delivered"]


def test_receiver_answers_410__stops_for_good(cb_stack):
    receiver = Receiver(lambda _req: (410, {"gone": True})).start()
    try:
        task = cb_stack.submit(
            params={"text": "x", "steps": 3}, callback={"url": receiver.url(), "events": ALL}
        )
        cb_stack.follow(task["id"])
        rows = wait_deliveries(
            cb_stack, task["id"], lambda rows: rows and all(r["status"] not in ("pending",) for r in rows)
        )
    finally:
        receiver.stop()
    assert len(receiver.requests) == 1
    assert {r["status"] for r in rows} <= {"gone", "superseded"}
    assert rows[0]["attempts"][0]["status_code"] == 410


def test_circuit_breaker__opens_after_consecutive_failures_then_recovers(cb_stack):
    healthy = {"on": False}
    receiver = Receiver(lambda _req: (200, {}) if healthy["on"] else (503, {})).start()
    try:
        task = cb_stack.submit(
            params={"text": "x"}, callback={"url": receiver.url(), "events": ["succeeded"]}
        )
        receiver.wait_for(lambda reqs: len(reqs) >= 4)  # REEL_CALLBACK_BREAKER_THRESHOLD
        rows = wait_deliveries(
            cb_stack, task["id"], lambda rows: "circuit open" in (rows[0]["last_error"] or "")
        )
        assert len(receiver.requests) == 4 and len(rows[0]["attempts"]) == 4
        healthy["on"] = True
        # after the cool-down one half-open probe goes out, succeeds and closes the breaker
        requests = receiver.wait_for(
            lambda reqs: reqs and reqs[-1].headers.get("reel-event") == "succeeded" and len(reqs) >= 5
        )
        gap = requests[4].at - requests[3].at
        assert gap >= 0.9, gap  # REEL_CALLBACK_BREAKER_COOLDOWN_S=1
        rows = wait_deliveries(cb_stack, task["id"], lambda rows: rows[0]["status"] == "delivered")
    finally:
        receiver.stop()


def test_secret_rotation__both_secrets_sign_during_the_grace_period(cb_stack):
    old = secret_of(cb_stack)
    with admin(cb_stack) as c:
        r = c.post(f"/admin/projects/{cb_stack.project}/callbacks/secret/rotate", json={"grace_s": 3600})
        assert r.status_code == 200, r.text
        new = r.json()["secret"]
        assert new != old and new.startswith("whsec_") and r.json()["previous_valid_until"]
        assert (
            c.post(
                f"/admin/projects/{cb_stack.project}/callbacks/secret/rotate", json={"secret": "nope"}
            ).json()["error"]["code"]
            == "bad_secret"
        )
    with cb_stack.client() as c:
        assert (
            c.post(f"/admin/projects/{cb_stack.project}/callbacks/secret/rotate", json={}).status_code == 403
        )
    receiver = Receiver().start()
    try:
        cb_stack.submit(params={"text": "x"}, callback={"url": receiver.url(), "events": ["succeeded"]})
        (req,) = receiver.wait_for(finished)
    finally:
        receiver.stop()
    assert len(req.headers["webhook-signature"].split(" ")) == 2
    Webhook(new).verify(req.body, req.headers)
    Webhook(old).verify(req.body, req.headers)
    assert hand_verify(new, req) and hand_verify(old, req)


def test_redeliver__sends_the_same_message_again(cb_stack):
    receiver = Receiver().start()
    try:
        task = cb_stack.submit(
            params={"text": "x"}, callback={"url": receiver.url(), "events": ["succeeded"]}
        )
        (first,) = receiver.wait_for(finished)
        (row,) = wait_deliveries(cb_stack, task["id"], lambda rows: rows[0]["status"] == "delivered")
        with cb_stack.client() as c:
            r = c.post(f"/tasks/{task['id']}/callbacks/{row['id']}/redeliver")
            assert r.status_code == 202, r.text
            assert c.post(f"/tasks/{task['id']}/callbacks/msg_nope/redeliver").status_code == 404
        requests = receiver.wait_for(lambda reqs: len(reqs) == 2)
    finally:
        receiver.stop()
    assert requests[1].headers["webhook-id"] == first.headers["webhook-id"] == row["id"]
    assert requests[1].json()["data"] == first.json()["data"] | {
        "outputs": requests[1].json()["data"]["outputs"]
    }


def test_callbacks_of_another_projects_task__not_found(cb_stack):
    task = cb_stack.submit(params={"text": "x"})
    _, other_key = cb_stack.new_project()
    with cb_stack.client(other_key) as c:
        assert c.get(f"/tasks/{task['id']}/callbacks").status_code == 404
        assert c.get(f"/projects/{cb_stack.project}/callbacks/secret").status_code == 404
