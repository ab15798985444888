"""Celery task events reach Flower / `celery events` from Reel's workers in distributed mode."""

from __future__ import annotations

import threading

from tests.utils.stack import Stack


def test_worker_sends_task_events_a_monitor_can_read(stack: Stack) -> None:
    if stack.mode != "distributed":
        return  # the embedded transport has no fanout for events (docs/operations.md)
    seen: list[str] = []
    succeeded = threading.Event()
    app = stack.runtime.celery

    def on_event(event: dict) -> None:
        seen.append(event["type"])
        if event["type"] == "task-succeeded":
            succeeded.set()
            receiver.should_stop = True

    with app.connection_for_read() as conn:
        receiver = app.events.Receiver(conn, handlers={"*": on_event})
        monitor = threading.Thread(target=lambda: receiver.capture(limit=None, timeout=60), daemon=True)
        monitor.start()
        for _ in range(5):  # the monitor's queue exists once it consumes: runs before that are not seen
            stack.follow(stack.submit()["id"])
            if succeeded.wait(2):
                break
        receiver.should_stop = True
        monitor.join(10)
    assert "task-succeeded" in seen, seen
