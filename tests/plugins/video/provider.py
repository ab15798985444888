"""A real local HTTP server that streams like an OpenAI-style video provider.

It answers ``POST /v1/chat/completions`` with Server-Sent Events (chunked transfer
encoding), progress in ``choices[0].delta.content``, the video URL at the end and
``data: [DONE]``; it serves the video at ``GET /files/video.mp4``. Words in the
prompt pick a scenario:

    break-once   the first stream is cut midway (no final chunk), later ones succeed
    error-event  an ``event: error`` with the provider's message
    error-json   a chunk ``{"error": {...}}`` inside the stream
    slow         many small progress steps, for cancellation
    bad-request  HTTP 400 with an OpenAI-style error body
    overloaded   HTTP 503
    no-url       finishes with [DONE] but never names a video
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeProvider:
    def __init__(self, video: bytes, token: str) -> None:
        self.video = video
        self.token = token
        self.requests: list[dict[str, Any]] = []
        self.downloads = 0
        self.seen: Counter[str] = Counter()
        self.client_gone = threading.Event()
        self.video_link: str | None = None  # the link the stream announces (default: its own /files/video.mp4)
        self.redirect_to = ""  # where GET /redirect sends the client
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeProvider:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def reset(self) -> None:
        self.requests.clear()
        self.downloads = 0
        self.seen.clear()
        self.client_gone.clear()
        self.video_link = None
        self.redirect_to = ""


def _handler(provider: FakeProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:  # keep test output quiet
            pass

        # -- helpers ------------------------------------------------------------
        def _json(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _chunk(self, text: str) -> None:
            data = text.encode()
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        def _end(self) -> None:
            self.wfile.write(b"0\r\n\r\n")  # the zero-length chunk that ends the body
            self.wfile.flush()

        def _delta(self, content: str) -> None:
            chunk = {
                "id": "chatcmpl-1",
                "object": "chat.completion.chunk",
                "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": None}],
            }
            self._chunk(f"data: {json.dumps(chunk)}\n\n")

        # -- routes ---------------------------------------------------------------
        def do_GET(self) -> None:
            if self.path == "/redirect" and provider.redirect_to:
                self.send_response(302)
                self.send_header("Location", provider.redirect_to)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if self.path != "/files/video.mp4":
                return self._json(404, {"error": {"message": "no such file"}})
            provider.downloads += 1
            self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            self.send_header("Content-Length", str(len(provider.video)))
            self.end_headers()
            self.wfile.write(provider.video)

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            provider.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
            if self.path != "/v1/chat/completions":
                return self._json(404, {"error": {"message": f"no route {self.path}"}})
            if self.headers.get("Authorization") != f"Bearer {provider.token}":
                return self._json(401, {"error": {"message": "Incorrect API key provided", "type": "auth"}})
            prompt = body["messages"][-1]["content"]
            if "bad-request" in prompt:
                return self._json(400, {"error": {"message": "prompt too long for model", "type": "invalid"}})
            if "overloaded" in prompt:
                return self._json(503, {"error": {"message": "model overloaded, try later"}})
            provider.seen[prompt] += 1
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            try:
                self._stream(prompt)
            except (BrokenPipeError, ConnectionResetError):
                provider.client_gone.set()
            self.close_connection = True

        def _stream(self, prompt: str) -> None:
            self._chunk(": keep-alive\n\n")
            self._delta("Generating video...\n")
            if "break-once" in prompt and provider.seen[prompt] == 1:
                self._delta("Progress: 30%\n")
                self.connection.shutdown(socket.SHUT_RDWR)  # cut midway: no final chunk
                return
            if "error-event" in prompt:
                self._delta("Progress: 10%\n")
                self._chunk(
                    'event: error\ndata: {"error": {"message": "content policy violation: '
                    'prompt rejected"}}\n\n'
                )
                return self._end()
            if "error-json" in prompt:
                self._chunk('data: {"error": {"message": "quota exceeded for this key"}}\n\n')
                return self._end()
            steps = range(1, 101) if "slow" in prompt else (25, 50, 75, 100)
            for pct in steps:
                if "slow" in prompt:
                    time.sleep(0.02)
                # split the percentage across chunks now and then, as real streams do
                self._delta(f"Progress: {pct}")
                self._delta("%\n")
            if "no-url" not in prompt:
                self._delta(f"Done! [video]({provider.video_link or provider.url + '/files/video.mp4'})")
            self._chunk('data: {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}\n\n')
            self._chunk("data: [DONE]\n\n")
            self._end()

    return Handler
