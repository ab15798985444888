"""``reel submit --wait`` rides out an API that drops its stream or answers 503 for a moment.

A real HTTP server scripted to misbehave once: the first submit answers 503, the first event
stream breaks off after two events. The CLI must try the submit again with the same
idempotency key, open the stream again with ``Last-Event-ID``, and show every log line once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

TASK = {"id": "tsk_follow", "status": "queued", "progress": 0.0, "message": "queued", "outputs": []}


class Script:
    """What the server saw and how often it has answered."""

    def __init__(self) -> None:
        self.submit_keys: list[str | None] = []
        self.stream_resumes: list[str | None] = []


def event(name: str, event_id: str, data: dict[str, object]) -> bytes:
    return f"event: {name}\nid: {event_id}\ndata: {json.dumps(data)}\n\n".encode()


def handler_for(script: Script) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_args: object) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("content-length", 0)))
            script.submit_keys.append(self.headers.get("Idempotency-Key"))
            if len(script.submit_keys) == 1:
                self._json(503, {"error": {"code": "overloaded", "message": "try again"}})
            else:
                self._json(202, TASK)

        def do_GET(self) -> None:  # noqa: N802
            script.stream_resumes.append(self.headers.get("Last-Event-ID"))
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("connection", "close")
            self.end_headers()
            if len(script.stream_resumes) == 1:  # two events, then the connection breaks
                self.wfile.write(event("task", "s1", {**TASK, "status": "running", "message": "step 1/2",
                                                      "progress": 0.5}))
                self.wfile.write(event("log", "l1", {"message": "line one"}))
                self.wfile.write(b"event: log\nid: l2\ndata: {\"mess")  # cut mid-event
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(event("log", "l2", {"message": "line two"}))
            self.wfile.write(event("task", "s2", {**TASK, "status": "succeeded", "message": "done", "progress": 1.0,
                                                  "outputs": [{"url": "http://files/echo-0.txt"}]}))
            self.wfile.flush()
            self.close_connection = True

        def _json(self, code: int, body: dict[str, object]) -> None:
            raw = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

    return Handler


@pytest.fixture
def flaky_api() -> Iterator[tuple[str, Script]]:
    script = Script()
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(script))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", script
    finally:
        server.shutdown()
        server.server_close()


def test_submit_wait__retries_a_503_with_one_key_and_resumes_a_broken_stream(flaky_api) -> None:
    url, script = flaky_api
    env = {k: v for k, v in os.environ.items() if not k.startswith("REEL_")}
    out = subprocess.run([sys.executable, "-m", "reel_host.cli.main", "submit", "test.echo", "-p", "text=x",
                          "--wait", "--url", url, "--key", "k"], env=env, capture_output=True, text=True,
                         timeout=60, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["http://files/echo-0.txt"]
    assert len(script.submit_keys) == 2 and script.submit_keys[0] == script.submit_keys[1] is not None
    assert script.stream_resumes == [None, "l1"]  # the cut event was not taken as received
    assert out.stderr.count("line one") == 1 and out.stderr.count("line two") == 1
