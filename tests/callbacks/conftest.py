"""A real stack for callback tests: API, a worker, and a `reel callbacks` process, on short schedules."""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.utils.stack import Stack, WorkerProcess, make_stack

ADMIN_KEY = "admin-" + secrets.token_hex(8)
FAST_CALLBACKS = {
    "REEL_ADMIN_KEY": ADMIN_KEY,
    "REEL_CALLBACK_ALLOW_PRIVATE": "true",
    "REEL_CALLBACK_SCHEDULE_S": "0.2,0.3,0.4,0.5,0.6,0.8,1,1,1.5",
    "REEL_CALLBACK_JITTER": "0.1",
    "REEL_CALLBACK_SWEEP_S": "0.1",
    "REEL_CALLBACK_BREAKER_THRESHOLD": "4",
    "REEL_CALLBACK_BREAKER_COOLDOWN_S": "1",
    "REEL_CALLBACK_LEASE_S": "2",
    "REEL_CALLBACK_TIMEOUT_S": "1",
}


def start_callbacks(stack: Stack, name: str = "callbacks", wait: bool = True) -> WorkerProcess:
    """Start a `reel callbacks` process for ``stack`` (stopped with the stack); wait until it delivers."""
    log_path = stack.tmp / f"{name}-{len(stack.workers)}.log"
    env = {**__import__("os").environ, **stack.env}
    with log_path.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "reel_host.cli.main",
                "callbacks",
                "--loglevel",
                "WARNING",
                "--concurrency",
                "4",
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=stack.tmp,
        )
    sender = WorkerProcess(proc, log_path, name)
    stack.workers.append(sender)
    if wait:
        wait_sender_ready(stack, sender)
    return sender


def wait_sender_ready(stack: Stack, sender: WorkerProcess, timeout: float = 60) -> None:
    """A webhook only ``sender`` can send: once it arrives, the process is up."""
    from reel_host.callbacks.outbox import record_event
    from reel_host.records.models import Task, new_id

    from tests.callbacks.receivers import Receiver

    receiver = Receiver().start()
    try:
        with stack.runtime.sessions() as session:
            task = Task(
                id=new_id("tsk"),
                project_id=stack.project,
                generator="test.echo",
                params={},
                status="succeeded",
                callback={"url": receiver.url("/ready"), "events": ["succeeded"]},
            )
            session.add(task)
            session.flush()
            record_event(session, stack.runtime, task, "succeeded")
            session.commit()
        deadline = time.monotonic() + timeout
        while not receiver.requests:
            if sender.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"reel callbacks did not start:\n{sender.log()}")
            time.sleep(0.05)
    finally:
        receiver.stop()


@pytest.fixture(scope="session", params=["embedded", "distributed"])
def cb_stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with make_stack(
        request.param, tmp_path_factory.mktemp(f"cb-{request.param}"), extra_env=FAST_CALLBACKS
    ) as s:
        s.start_worker("testplugin", pool="main")
        s.sender = start_callbacks(s)  # type: ignore[attr-defined]
        yield s


def admin(stack: Stack) -> Any:
    import httpx

    return httpx.Client(
        base_url=stack.url + "/api/v1", timeout=30, headers={"Authorization": f"Bearer {ADMIN_KEY}"}
    )


def deliveries(stack: Stack, task_id: str, key: str | None = None) -> list[dict[str, Any]]:
    with stack.client(key) as c:
        r = c.get(f"/tasks/{task_id}/callbacks")
    assert r.status_code == 200, r.text
    return r.json()["data"]  # type: ignore[no-any-return]


def wait_deliveries(
    stack: Stack,
    task_id: str,
    until: Callable[[list[dict[str, Any]]], bool],
    key: str | None = None,
    timeout: float = 30,
) -> list[dict[str, Any]]:
    """Read the task's deliveries until ``until`` holds (a short poll of the REST API)."""
    deadline = time.monotonic() + timeout
    while True:
        rows = deliveries(stack, task_id, key)
        if until(rows):
            return rows
        if time.monotonic() > deadline:
            raise AssertionError(f"deliveries never matched: {rows}")
        time.sleep(0.05)
