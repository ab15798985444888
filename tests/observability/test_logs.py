"""JSON log lines followed by one request id: API -> Celery headers -> worker -> callbacks -> receiver.

Every process runs with REEL_LOG_FORMAT=json in a subprocess of its own: a second API
(``reel serve``), a worker and a ``reel callbacks`` sender; the webhook goes to a real
HTTP receiver.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.callbacks.conftest import FAST_CALLBACKS, wait_deliveries
from tests.callbacks.receivers import Receiver
from tests.observability.helpers import start_api, start_process
from tests.utils.stack import Stack, WorkerProcess, make_stack

JSON = {"REEL_LOG_FORMAT": "json"}


def json_lines(process: WorkerProcess) -> list[dict[str, Any]]:
    """The process's log lines that are JSON objects (Celery's start banner is not a log line)."""
    out = []
    for line in process.log().splitlines():
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with make_stack("distributed", tmp_path_factory.mktemp("logs"), FAST_CALLBACKS) as stack:
        worker = stack.start_worker("testplugin", pool="logs", extra_env=JSON, args=["--loglevel", "INFO"])
        sender = start_process(stack, "sender", ["callbacks", "--loglevel", "INFO", "--concurrency", "2"], JSON)
        api, url = start_api(stack, JSON)
        receiver = Receiver().start()
        try:
            yield {"stack": stack, "worker": worker, "sender": sender, "api": api, "url": url,
                   "receiver": receiver}
        finally:
            receiver.stop()


def test_logs__one_request_id_follows_a_task_from_submit_to_the_webhook(env):
    stack: Stack = env["stack"]
    receiver: Receiver = env["receiver"]
    rid = "cms-" + secrets.token_hex(8)
    with httpx.Client(base_url=env["url"] + "/api/v1", timeout=30,
                      headers={"Authorization": f"Bearer {stack.key}", "X-Request-ID": rid}) as c:
        r = c.post("/tasks/submit", json={"generator": "test.echo", "params": {"text": "follow me"},
                                          "callback": {"url": receiver.url(), "events": ["succeeded"]}})
    assert r.status_code == 202, r.text
    assert r.headers["x-request-id"] == rid
    task = r.json()
    assert stack.follow(task["id"])["status"] == "succeeded"
    [hook] = receiver.wait_for(lambda reqs: any(q.headers.get("reel-task-id") == task["id"] for q in reqs))
    assert hook.headers["x-request-id"] == rid
    # the sender logs the outcome before it records it: once recorded, the line is written
    wait_deliveries(stack, task["id"], lambda rows: bool(rows) and rows[0]["status"] == "delivered")

    api_lines = [line for line in json_lines(env["api"]) if line.get("request_id") == rid]
    worker_lines = [line for line in json_lines(env["worker"]) if line.get("request_id") == rid]
    sender_lines = [line for line in json_lines(env["sender"]) if line.get("request_id") == rid]
    for line in api_lines + worker_lines + sender_lines:
        assert {"timestamp", "level", "logger", "message"} <= set(line), line
    # the API's access line
    assert any(line.get("route") == "/api/v1/tasks/submit" and line.get("status") == 202
               for line in api_lines), api_lines
    # the worker's run, with the task's ids
    run = [line for line in worker_lines if line["message"] == "task run starting"]
    assert run, json_lines(env["worker"])[-20:]
    assert run[0]["task_id"] == task["id"] and run[0]["attempt"] == 1 and run[0]["generator"] == "test.echo"
    assert run[0]["project"] == stack.project and run[0]["worker"].startswith("logs@")
    assert any(line["message"] == "task run ended: succeeded" for line in worker_lines)
    # the sender's delivery, with the webhook id the receiver saw
    delivered = [line for line in sender_lines if line.get("outcome") == "delivered"]
    assert delivered, json_lines(env["sender"])[-20:]
    assert delivered[0]["webhook_id"] == hook.headers["webhook-id"] and delivered[0]["task_id"] == task["id"]


def test_logs__request_id_from_traceparent_or_made_when_missing_or_malformed(env):
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    with httpx.Client(base_url=env["url"] + "/api/v1", timeout=30) as c:
        traced = c.get("/health", headers={"traceparent": f"00-{trace}-00f067aa0ba902b7-01"})
        assert traced.headers["x-request-id"] == trace
        made = c.get("/health").headers["x-request-id"]
        assert len(made) == 32 and made != trace
        odd = c.get("/health", headers={"X-Request-ID": "x" * 300}).headers["x-request-id"]
        assert odd != "x" * 300
    assert any(line.get("request_id") == trace for line in json_lines(env["api"]))
