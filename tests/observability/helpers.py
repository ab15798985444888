"""Scraping /metrics, and the extra processes observability tests need (a second API, a sender)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.utils.stack import Stack, WorkerProcess, free_port

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def scrape(url: str, token: str | None = None) -> Samples:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    r = httpx.get(url, headers=headers, timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return parse(r.text)


def value(samples: Samples, name: str, /, **labels: str) -> float:
    """The sample's value, 0 if absent (a counter never incremented is not exported)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def names(samples: Samples) -> set[str]:
    return {name for name, _ in samples}


def wait_until(check: Any, timeout: float = 30, interval: float = 0.1) -> Any:
    """Poll ``check`` (a scrape is a poll by nature: Prometheus pulls) until it returns truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met in {timeout}s; last {result!r}")
        time.sleep(interval)


def start_process(stack: Stack, name: str, args: list[str], env: dict[str, str] | None = None) -> WorkerProcess:
    """A ``reel ...`` subprocess of the stack (stopped with it), output kept in a log file."""
    log_path = stack.tmp / f"{name}-{len(stack.workers)}.log"
    full_env = {**os.environ, **stack.env, **(env or {})}
    with log_path.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "reel_host.cli.main", *args], env=full_env,
                                stdout=out, stderr=subprocess.STDOUT, cwd=stack.tmp, start_new_session=True)
    process = WorkerProcess(proc, log_path, name)
    stack.workers.append(process)
    return process


def start_api(stack: Stack, env: dict[str, str] | None = None) -> tuple[WorkerProcess, str]:
    """A second API process (``reel serve``) on the stack's database and broker; returns it and its URL."""
    port = free_port()
    proc = start_process(stack, "api2", ["serve", "--host", "127.0.0.1", "--port", str(port)], env)
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if proc.proc.poll() is not None:
            raise AssertionError(f"reel serve exited:\n{proc.log()}")
        try:
            return httpx.get(url + "/api/v1/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(up, timeout=60)
    return proc, url


def children(pid: int) -> list[int]:
    """Direct child processes of ``pid`` (Linux /proc)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found += [int(p) for p in text]
    return found


def metrics_up(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
