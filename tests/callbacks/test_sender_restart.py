"""`reel callbacks` restarting between an event and its delivery loses nothing."""

from __future__ import annotations

import signal
import threading

from tests.callbacks.conftest import deliveries, start_callbacks
from tests.callbacks.receivers import Receiver

ALL = ["started", "progress", "succeeded", "failed", "cancelled"]


def test_sender_down_while_the_task_runs__every_event_delivered_after_restart(cb_stack):
    receiver = Receiver().start()
    try:
        cb_stack.sender.stop(signal.SIGKILL)
        task = cb_stack.submit(
            params={"text": "x", "steps": 3, "step_s": 0.3}, callback={"url": receiver.url(), "events": ALL}
        )
        cb_stack.follow(task["id"])
        assert receiver.requests == []
        assert {d["status"] for d in deliveries(cb_stack, task["id"])} == {"pending"}
        cb_stack.sender = start_callbacks(cb_stack)
        requests = receiver.wait_for(
            lambda reqs: any(r.path == "/hook" and r.json()["type"] == "task.succeeded" for r in reqs)
        )
    finally:
        receiver.stop()
    hooks = [r for r in requests if r.path == "/hook"]
    assert [r.json()["type"] for r in hooks] == ["task.started", "task.progress", "task.succeeded"]


def test_sender_killed_mid_request__the_delivery_is_sent_again_with_the_same_id(cb_stack):
    arrived, release = threading.Event(), threading.Event()

    def respond(req):
        if req.path == "/hook" and not arrived.is_set():
            arrived.set()
            release.wait(10)  # hold the first request until its sender is dead
        return 200, {}

    receiver = Receiver(respond).start()
    try:
        task = cb_stack.submit(
            params={"text": "x"}, callback={"url": receiver.url(), "events": ["succeeded"]}
        )
        assert arrived.wait(30)
        cb_stack.sender.stop(signal.SIGKILL)
        release.set()
        cb_stack.sender = start_callbacks(
            cb_stack
        )  # the lease (REEL_CALLBACK_LEASE_S) runs out, then a resend
        requests = receiver.wait_for(lambda reqs: len([r for r in reqs if r.path == "/hook"]) >= 2)
    finally:
        release.set()
        receiver.stop()
    first, again = [r for r in requests if r.path == "/hook"][:2]
    assert first.headers["webhook-id"] == again.headers["webhook-id"]
    assert again.json()["type"] == "task.succeeded"
    (row,) = deliveries(cb_stack, task["id"])
    assert row["status"] == "delivered"
