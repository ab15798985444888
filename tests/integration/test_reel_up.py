"""`reel up` as a service manager and a terminal treat it: stop signals and dying children.

A real `reel up` runs in a session of its own; its log (stderr) names each child's pid,
and each child leads a process group, so a test can see everything it started, the
Celery worker's pool children included.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest
from reel_host.cli.run import UP_PROCESSES

from tests.utils.stack import free_port

REEL = [sys.executable, "-m", "reel_host.cli.main"]
STARTED = re.compile(r"reel up: (?:started|restarted) (\w+) \(pid (\d+)\)")


def wait_for(predicate, timeout: float = 90, what: str = "condition"):  # type: ignore[no-untyped-def]
    """Poll ``predicate`` until it answers something truthy (an upper bound, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@dataclass
class Up:
    proc: subprocess.Popen[str]
    log_path: Path
    url: str

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def children(self) -> dict[str, int]:
        """name -> pid of the latest start of each child, from the log."""
        return {name: int(pid) for name, pid in STARTED.findall(self.log())}

    def ready_count(self) -> int:
        """Celery workers that said they are ready (the worker and the sender)."""
        return len(re.findall(r"@\S+ ready\.", self.log()))

    def group(self, pgid: int) -> set[int]:
        """Every live process in a child's process group (the worker's pool children too)."""
        found = set()
        for p in psutil.process_iter(["pid"]):
            with contextlib.suppress(psutil.Error, ProcessLookupError):
                if os.getpgid(p.pid) == pgid and not gone(p.pid):
                    found.add(p.pid)
        return found

    def wait_ready(self) -> dict[str, int]:
        children = wait_for(lambda: len(self.children()) == len(UP_PROCESSES) and self.children(),
                            what="every child started")
        wait_for(lambda: _healthy(self.url), what="the API")
        wait_for(lambda: self.ready_count() >= 2, what="the worker and the sender ready")
        return children


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url + "/api/v1/health", timeout=5).status_code == 200
    except httpx.TransportError:
        return False


@pytest.fixture
def up(tmp_path: Path) -> Iterator[Up]:
    port = free_port()
    log_path = tmp_path / "up.log"
    env = {**os.environ, "REEL_HOME": str(tmp_path / "home"), "REEL_UP_STOP_GRACE_S": "20",
           "REEL_UP_RESTART_BACKOFF_S": "0.5"}
    with log_path.open("w") as log_file:
        proc = subprocess.Popen([*REEL, "up", "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                                stderr=log_file, text=True, start_new_session=True)
    handle = Up(proc, log_path, f"http://127.0.0.1:{port}")
    try:
        yield handle
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(30)
        for pid in handle.children().values():  # never leave a stray process behind
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_up__stop_signal_stops_every_process_it_started(up, sig):
    children = up.wait_ready()
    assert set(children) == set(UP_PROCESSES)
    started = set().union(*(up.group(pid) for pid in children.values()))
    assert len(started) > len(children), "the worker's pool children should be in its process group"

    up.proc.send_signal(sig)

    assert up.proc.wait(60) == 0
    wait_for(lambda: all(gone(pid) for pid in started), what="every process it started to end")
    assert f"{signal.Signals(sig).name} received, stopping" in up.log()
    assert "did not stop" not in up.log(), "idle children stop gracefully, without force"


def test_up__a_child_that_dies_is_restarted_and_the_restart_logged(up):
    children = up.wait_ready()
    worker = children["worker"]
    pool = up.group(worker) - {worker}

    os.killpg(worker, signal.SIGKILL)

    new = wait_for(lambda: up.children()["worker"] != worker and up.children()["worker"], what="a restart")
    assert re.search(rf"worker \(pid {worker}\) exited with signal SIGKILL after [\d.]+s; restarting in 0.5s "
                     r"\(restart 1\)", up.log())
    assert all(gone(pid) for pid in pool | {worker})
    assert psutil.pid_exists(new) and not gone(new)
    wait_for(lambda: up.ready_count() >= 3, what="the new worker ready")
    assert up.children()["serve"] == children["serve"] and up.children()["callbacks"] == children["callbacks"]

    up.proc.send_signal(signal.SIGTERM)
    assert up.proc.wait(60) == 0
    wait_for(lambda: all(gone(pid) for pid in up.children().values()), what="every child to end")


def test_up__killed_supervisor_takes_its_children_with_it(up):
    """Even SIGKILL, which `reel up` cannot catch: the kernel tells each child (Linux)."""
    if not sys.platform.startswith("linux"):
        pytest.skip("PR_SET_PDEATHSIG is Linux only")
    children = up.wait_ready()

    up.proc.kill()

    up.proc.wait(30)
    wait_for(lambda: all(gone(pid) for pid in children.values()), what="the orphans to stop")
