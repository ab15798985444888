"""`reel up`'s supervisor with small stand-in children: the grace, the force, the backoff.

The supervisor runs in a subprocess of its own (it owns the signal handlers of its main
thread, as in `reel up`); its log on stderr is what the tests read.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

DRIVER = textwrap.dedent("""
    import logging, os, sys
    from reel_host.cli.supervisor import ChildSpec, Supervisor
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    waiting, grace, backoff, backoff_max, *children = sys.argv[1:]
    if waiting == "poll" and hasattr(os, "pidfd_open"):  # as on macOS or an old kernel
        del os.pidfd_open
    specs = [ChildSpec(f"child{i}", [sys.executable, "-c", code]) for i, code in enumerate(children)]
    sup = Supervisor(specs, grace_s=float(grace), backoff_s=float(backoff), backoff_max_s=float(backoff_max))
    sup.start()
    raise SystemExit(sup.run())
""")

# ignores SIGTERM and starts a grandchild (in its process group) that ignores it too
STUBBORN = textwrap.dedent("""
    import signal, subprocess, sys, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    subprocess.Popen([sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                      "print('grandchild', flush=True); time.sleep(600)"])
    time.sleep(600)
""")


def wait_for(predicate, timeout: float = 60, what: str = "condition"):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def start(tmp_path: Path, *args: str) -> tuple[subprocess.Popen[bytes], Path]:
    log = tmp_path / "sup.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-c", DRIVER, *args], stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    return proc, log


def group_members(pgid: int) -> set[int]:
    members = set()
    for p in psutil.process_iter():
        with contextlib.suppress(psutil.Error, ProcessLookupError):
            if os.getpgid(p.pid) == pgid and p.status() != psutil.STATUS_ZOMBIE:
                members.add(p.pid)
    return members


def test_stop__a_child_ignoring_sigterm_is_killed_with_its_group_after_the_grace(tmp_path):
    proc, log = start(tmp_path, "pidfd", "1", "1", "1", STUBBORN)
    pid = 0
    try:
        pid = int(wait_for(lambda: re.search(r"started child0 \(pid (\d+)\)", log.read_text()), what="start")[1])
        wait_for(lambda: len(group_members(pid)) == 2, what="the grandchild")
        members = group_members(pid)

        proc.send_signal(signal.SIGTERM)

        assert proc.wait(30) == 0
        assert f"child0 (pid {pid}) did not stop in 1s; killing it" in log.read_text()
        wait_for(lambda: not group_members(pid), what="the group to be gone")
        assert all(not psutil.pid_exists(m) or psutil.Process(m).status() == psutil.STATUS_ZOMBIE for m in members)
    finally:
        proc.kill()
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)


@pytest.mark.parametrize("waiting", ["pidfd", "poll"])
def test_restart__backoff_doubles_up_to_its_cap_and_each_restart_is_logged(tmp_path, waiting):
    proc, log = start(tmp_path, waiting, "5", "0.2", "0.8", "raise SystemExit(3)")
    try:
        wait_for(lambda: log.read_text().count("restarting in") >= 5, what="five restarts")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
    finally:
        proc.kill()
    text = log.read_text()
    delays = re.findall(r"child0 \(pid \d+\) exited with exit code 3 after [\d.]+s; restarting in ([\d.]+)s "
                        r"\(restart (\d+)\)", text)
    assert [d for d, _ in delays[:5]] == ["0.2", "0.4", "0.8", "0.8", "0.8"]
    assert [int(n) for _, n in delays[:5]] == [1, 2, 3, 4, 5]
    assert len(re.findall(r"restarted child0 \(pid \d+\)", text)) >= 4
    assert "SIGINT received, stopping" in text
