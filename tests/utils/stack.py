"""Real Reel stacks for tests: an API server on a free port and worker subprocesses.

A stack runs in one of two modes:
- ``embedded``: SQLite and the filesystem broker in a temporary REEL_HOME;
- ``distributed``: the machine's PostgreSQL (a database of its own) and Redis (own DB
  number and key prefix), torn down afterwards.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from reel_host.api.app import create_app
from reel_host.runtime import Runtime
from reel_host.services import auth
from reel_host.settings import Settings

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/13"

FAST = {
    "REEL_HEARTBEAT_S": "0.5",
    "REEL_WORKER_LOST_AFTER_S": "4",
    "REEL_RETRY_BACKOFF_S": "0.2",
    "REEL_RETRY_BACKOFF_MAX_S": "1",
    "REEL_EVENTS_POLL_S": "5",  # SSE streams are fed by push; this is only the fallback look
    "REEL_DISPATCH_POLL_S": "0.1",
    "REEL_RECONCILE_S": "0.5",
    "REEL_REDISPATCH_AFTER_S": "2",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def create_pg_database() -> tuple[str, str]:
    import psycopg

    name = f"reel_test_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def drop_pg_database(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def clear_redis_prefix(prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)


def settings_from_env(env: dict[str, str]) -> Settings:
    return Settings(**{k.removeprefix("REEL_").lower(): v for k, v in env.items() if k.startswith("REEL_")})


class ApiServer:
    """uvicorn serving the Reel app in a thread of the test process."""

    def __init__(self, settings: Settings, port: int) -> None:
        self.app = create_app(settings)
        self.runtime: Runtime = self.app.state.runtime
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("API server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@dataclass
class WorkerProcess:
    proc: subprocess.Popen[bytes]
    log_path: Path
    pool: str

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill_group(self, sig: int = signal.SIGKILL) -> None:
        """Signal the worker and its pool children at once (it runs in a session of its own)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)

    def stop(self, sig: int | None = None) -> None:
        if self.proc.poll() is None:
            if sig is None:
                self.proc.terminate()
            else:
                self.proc.send_signal(sig)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@dataclass
class Stack:
    mode: str
    env: dict[str, str]
    tmp: Path
    api: ApiServer
    url: str
    key: str
    project: str = "default"
    workers: list[WorkerProcess] = field(default_factory=list)
    _cleanup: list[Any] = field(default_factory=list)

    @property
    def runtime(self) -> Runtime:
        return self.api.runtime

    def client(self, key: str | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.url + "/api/v1", timeout=30,
                            headers={"Authorization": f"Bearer {key or self.key}"})

    def new_project(self, name: str | None = None) -> tuple[str, str]:
        name = name or f"p{secrets.token_hex(4)}"
        with self.runtime.sessions() as session:
            auth.create_project(session, name)
            _, key = auth.create_key(session, name)
            session.commit()
        return name, key

    def start_worker(self, plugins: str = "testplugin", pool: str | None = None,
                     extra_env: dict[str, str] | None = None,
                     args: list[str] | None = None, wait: bool = True) -> WorkerProcess:
        pool = pool or f"pool{len(self.workers)}"
        log_path = self.tmp / f"worker-{pool}-{len(self.workers)}.log"
        env = {**os.environ, **self.env, **(extra_env or {})}
        cmd = [sys.executable, "-m", "reel_host.cli.main", "worker", "--plugins", plugins, "--pool", pool,
               "--loglevel", "WARNING", *(args or [])]
        with log_path.open("wb") as out:
            proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=self.tmp,
                                    start_new_session=True)
        worker = WorkerProcess(proc, log_path, pool)
        self.workers.append(worker)
        if wait:
            self.wait_worker_online(worker)
        return worker

    def wait_worker_online(self, worker: WorkerProcess, timeout: float = 60) -> None:
        from reel_host.records.models import Worker
        from sqlalchemy import select

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if worker.proc.poll() is not None:
                raise RuntimeError(f"worker exited with {worker.proc.returncode}:\n{worker.log()}")
            with self.runtime.sessions() as session:
                online = select(Worker).where(Worker.pool == worker.pool, Worker.status == "online")
                row = session.scalars(online).first()
            if row is not None:
                return
            time.sleep(0.1)
        raise RuntimeError(f"worker {worker.pool} did not come online:\n{worker.log()}")

    def submit(self, generator: str = "test.echo", params: dict[str, Any] | None = None,
               client: httpx.Client | None = None, **body: Any) -> dict[str, Any]:
        c = client or self.client()
        r = c.post("/tasks/submit", json={"generator": generator, "params": params or {"text": "hi"}, **body})
        assert r.status_code == 202, r.text
        return r.json()

    def follow(self, task_id: str, until: tuple[str, ...] = ("succeeded", "failed", "cancelled"),
               timeout: float = 60, key: str | None = None,
               where: Callable[[dict[str, Any]], bool] | None = None) -> dict[str, Any]:
        """Read the task's SSE stream until it reaches one of ``until`` (and ``where`` holds), without polling.

        On failure the message lists every state the stream sent, with the time it arrived.
        """
        last: dict[str, Any] = {}
        seen: list[str] = []
        opened = datetime.now(UTC).isoformat(timespec="milliseconds")
        with httpx.Client(timeout=httpx.Timeout(timeout)) as c, c.stream(
            "GET", f"{self.url}/api/v1/tasks/{task_id}/events",
            headers={"Authorization": f"Bearer {key or self.key}"},
        ) as r:
            assert r.status_code == 200, r.read()
            event = None
            deadline = time.monotonic() + timeout
            for line in r.iter_lines():
                if time.monotonic() > deadline:
                    break
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:") and event == "task":
                    last = json.loads(line[5:])
                    seen.append(f"{datetime.now(UTC).isoformat(timespec='milliseconds')} {last['status']}")
                    if last["status"] in until and (where is None or where(last)):
                        return last
        raise AssertionError(f"task {task_id} did not reach {until}; stream opened {opened}, states seen: {seen}; "
                             f"last seen {last}\n" + "\n".join(w.log()[-3000:] for w in self.workers))

    def close(self) -> None:
        for worker in self.workers:  # all shut down at once, then wait for each
            if worker.proc.poll() is None:
                worker.proc.terminate()
        for worker in self.workers:
            worker.stop()
        self.api.stop()
        self.runtime.engine.dispose()
        for fn in reversed(self._cleanup):
            fn()


@contextmanager
def make_stack(mode: str, tmp: Path, extra_env: dict[str, str] | None = None, *,
               database_url: str | None = None, broker_url: str | None = None) -> Iterator[Stack]:
    """A stack in ``mode``; ``database_url``/``broker_url`` point a distributed one at private servers."""
    port = free_port()
    env = {**FAST, "REEL_HOME": str(tmp / "home"), "REEL_PUBLIC_URL": f"http://127.0.0.1:{port}",
           "REEL_SECRET_KEY": secrets.token_urlsafe(16), **(extra_env or {})}
    cleanup = []
    if mode == "distributed":
        prefix = f"reeltest-{secrets.token_hex(4)}:"
        env.update({"REEL_BROKER_URL": broker_url or REDIS_URL, "REEL_BROKER_PREFIX": prefix})
        if broker_url is None:
            cleanup.append(lambda: clear_redis_prefix(prefix))
        if database_url is None:
            db_name, database_url = create_pg_database()
            cleanup.append(lambda: drop_pg_database(db_name))
        env["REEL_DATABASE_URL"] = database_url
    settings = settings_from_env(env)
    api = ApiServer(settings, port)
    api.runtime.migrate()
    with api.runtime.sessions() as session:
        auth.create_project(session, "default")
        _, key = auth.create_key(session, "default")
        session.commit()
    api.start()
    stack = Stack(mode, env, tmp, api, f"http://127.0.0.1:{port}", key, _cleanup=cleanup)
    try:
        yield stack
    finally:
        stack.close()
