"""Real HTTP receivers for callback tests: threaded servers on 127.0.0.1 that record requests."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.utils.stack import free_port


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)

    def json(self) -> Any:
        return json.loads(self.body)


Responder = Callable[[Request], tuple[int, Any]]


class Receiver:
    """Answers every request with ``responder(request)`` (default 200) and keeps them all.

    ``stop()`` closes the port (connections are refused, as for a receiver that is down);
    ``start()`` opens it again on the same port.
    """

    def __init__(self, responder: Responder | None = None) -> None:
        self.port = free_port()
        self.responder: Responder = responder or (lambda _req: (200, {"ok": True}))
        self.requests: list[Request] = []
        self.cond = threading.Condition()
        self.delay_s = 0.0
        self._server: ThreadingHTTPServer | None = None

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                req = Request(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                if receiver.delay_s:
                    time.sleep(receiver.delay_s)
                status, answer = receiver.responder(req)
                data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
                with receiver.cond:
                    receiver.requests.append(req)
                    receiver.cond.notify_all()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_POST = do_PATCH = do_PUT = do_GET = _handle

            def log_message(self, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def wait_for(self, predicate: Callable[[list[Request]], bool], timeout: float = 30) -> list[Request]:
        """Block until ``predicate(requests)`` holds (woken by each request, no polling)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while not predicate(self.requests):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"receiver did not see what was expected; got {self.summary()}")
                self.cond.wait(left)
            return list(self.requests)

    def summary(self) -> list[str]:
        return [f"{r.method} {r.path} {r.headers.get('reel-event', '')}" for r in self.requests]


class PayloadLike(Receiver):
    """A Payload-like REST server: API-key auth, PATCH of documents, an upload collection.

    ``missing_first`` PATCHes of each document answer 404 (the hook that submitted the
    task has not committed its document yet).
    """

    def __init__(self, slug: str, api_key: str, missing_first: int = 0) -> None:
        super().__init__(self._respond)
        self.slug, self.api_key, self.missing_first = slug, api_key, missing_first
        self.docs: dict[str, dict[str, Any]] = {}
        self.patches: dict[str, list[dict[str, Any]]] = {}
        self.media: dict[int, dict[str, Any]] = {}
        self.refused = 0

    def _respond(self, req: Request) -> tuple[int, Any]:
        if req.headers.get("authorization") != f"{self.slug} API-Key {self.api_key}":
            self.refused += 1
            return 403, {"errors": [{"message": "You are not allowed to perform this action."}]}
        path = req.path.split("?")[0]
        if req.method == "POST" and path == "/api/media":
            name = re.search(rb'name="file"; filename="([^"]+)"', req.body)
            if not name or b'name="_payload"' not in req.body:
                return 400, {"errors": [{"message": "missing file"}]}
            media_id = len(self.media) + 1
            self.media[media_id] = {"filename": name.group(1).decode(), "body": req.body}
            return 201, {
                "doc": {"id": media_id, "url": f"/api/media/file/{name.group(1).decode()}"},
                "message": "created",
            }
        m = re.fullmatch(r"/api/([^/]+)/([^/]+)", path)
        if req.method == "PATCH" and m:
            doc = f"{m.group(1)}/{m.group(2)}"
            patches = self.patches.setdefault(doc, [])
            patches.append(req.json())
            if len(patches) <= self.missing_first:
                return 404, {"errors": [{"message": "Not Found"}]}
            self.docs.setdefault(doc, {}).update(req.json())
            return 200, {"doc": {"id": m.group(2), **self.docs[doc]}, "message": "Updated successfully."}
        return 404, {"errors": [{"message": "Not Found"}]}
