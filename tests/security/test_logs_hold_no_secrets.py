"""A full stack (API, worker, callbacks sender: each its own process, at INFO) run with a secret in
every place a user or operator can put one; no log line of any process holds any of them."""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from reel_host.sealing import new_key

from tests.callbacks.conftest import FAST_CALLBACKS, wait_deliveries
from tests.callbacks.receivers import PayloadLike, Receiver
from tests.security.conftest import ADMIN_KEY
from tests.utils.stack import free_port, make_stack


def spawn(tmp: Path, name: str, args: list[str], env: dict[str, str]) -> tuple[subprocess.Popen, Path]:
    log = tmp / f"{name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "reel_host.cli.main", *args], env={**os.environ, **env},
                                stdout=out, stderr=subprocess.STDOUT, cwd=tmp, start_new_session=True)
    return proc, log


@pytest.mark.parametrize("mode", ["embedded", pytest.param("distributed", marks=pytest.mark.postgres)])
def test_full_stack__no_secret_in_any_log_line(mode, tmp_path):
    webhook_secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    payload_key = "pk-" + secrets.token_hex(16)
    url_password, url_token = "pw" + secrets.token_hex(8), "tk" + secrets.token_hex(8)
    sealing_key, secret_key = new_key(), secrets.token_urlsafe(32)
    env = {**FAST_CALLBACKS, "REEL_ADMIN_KEY": ADMIN_KEY, "REEL_SEALING_KEYS": sealing_key,
           "REEL_SECRET_KEY": secret_key}
    receiver = Receiver().start()
    fail_once = {"left": 1}

    def flaky(_req):  # the first webhook fails, so the retry and error paths log too
        if fail_once["left"]:
            fail_once["left"] -= 1
            return 500, {"error": f"nope {url_token}"}
        return 200, {}

    receiver.responder = flaky
    cms = PayloadLike("users", payload_key, missing_first=1).start()
    procs: list[subprocess.Popen] = []
    logs: list[Path] = []
    with make_stack(mode, tmp_path, env) as stack:
        stack.env["REEL_SECRET_KEY"] = secret_key
        port = free_port()
        try:
            for name, args in [("api", ["serve", "--host", "127.0.0.1", "--port", str(port)]),
                               ("worker", ["worker", "--plugins", "testplugin", "--pool", "logs",
                                           "--loglevel", "INFO"]),
                               ("callbacks", ["callbacks", "--loglevel", "INFO", "--concurrency", "2"])]:
                proc, log = spawn(tmp_path, name, args, stack.env)
                procs.append(proc)
                logs.append(log)
            api = f"http://127.0.0.1:{port}/api/v1"
            deadline = time.monotonic() + 60
            while True:  # the API process is up when it answers
                try:
                    if httpx.get(api + "/health", timeout=5).status_code in (200, 503):
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline and procs[0].poll() is None, logs[0].read_text()
                time.sleep(0.1)
            stack.wait_worker_online(type("W", (), {"pool": "logs", "proc": procs[1],
                                                    "log": lambda self=None: logs[1].read_text()})())

            admin = httpx.Client(base_url=api, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=30)
            project = f"logs{secrets.token_hex(3)}"
            assert admin.post("/projects", json={"name": project}).status_code == 201
            api_key = admin.post(f"/projects/{project}/keys", json={"name": "cms"}).json()["key"]
            assert admin.post(f"/admin/projects/{project}/callbacks/secret/rotate",
                              json={"secret": webhook_secret}).status_code == 200
            assert admin.put(f"/admin/projects/{project}/callbacks/payload",
                             json={"base_url": cms.url(""), "api_key": payload_key,
                                   "upload_collection": "media"}).status_code == 200
            callback = f"http://cbuser:{url_password}@127.0.0.1:{receiver.port}/hook?token={url_token}"
            user = httpx.Client(base_url=api, headers={"Authorization": f"Bearer {api_key}"}, timeout=30)
            r = user.post("/tasks/submit", json={"generator": "test.echo", "params": {"text": "secretive"},
                                                 "callback": {"url": callback},
                                                 "cms": {"collection": "scenes", "id": 3}})
            assert r.status_code == 202, r.text
            task = r.json()
            stack.follow(task["id"], key=api_key)
            wait_deliveries(stack, task["id"], lambda rows: rows and all(x["status"] == "delivered" for x in rows),
                            key=api_key)
            assert user.get(f"/projects/{project}/callbacks/secret").json()["secret"] == webhook_secret
            httpx.get(api + "/workers/status", headers={"Authorization": "Bearer reel_wrong" + url_token})
            assert cms.docs["scenes/3"]["reelStatus"] == "succeeded"
            assert receiver.requests[-1].headers.get("authorization", "").startswith("Basic ")  # userinfo used
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.terminate()
            for proc in procs:
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
            receiver.stop()
            cms.stop()

    found = {}
    secrets_ = {"API key": api_key, "admin key": ADMIN_KEY, "webhook secret": webhook_secret,
                "webhook secret body": webhook_secret.removeprefix("whsec_"), "Payload key": payload_key,
                "callback URL password": url_password, "callback URL token": url_token,
                "sealing key": sealing_key, "secret key": secret_key}
    lines = 0
    for log in logs:
        for n, line in enumerate(log.read_text(errors="replace").splitlines()):
            lines += 1
            for what, value in secrets_.items():
                if value in line:
                    found.setdefault(what, f"{log.name}:{n + 1}: {line[:300]}")
    assert lines > 10  # the processes did log (INFO): the search had something to search
    assert found == {}, found
