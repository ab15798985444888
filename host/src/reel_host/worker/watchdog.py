"""Forced cancellation: kill a pool child that keeps running a cancelled task.

Cancellation is cooperative first: the generator's ``ctx.progress()`` raises
``Cancelled`` once the record says so. A generator stuck in one long GPU call never
asks, so this thread in the worker's main process watches the runs its children
hold; when a run's record is no longer ``running`` on this attempt (cancelled,
superseded) for longer than ``REEL_CANCEL_GRACE_S``, it SIGKILLs that child. Celery
sees a lost child, :func:`reel_host.lifecycle.lost.child_lost` finds the task
cancelled and acknowledges the message, and the pool starts a fresh child.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from typing import Any

from celery.worker import state
from sqlalchemy import select

from reel_host import forksafe
from reel_host.records.models import Task
from reel_host.runtime import Runtime

log = logging.getLogger("reel.worker.watchdog")


def _active_requests() -> list[Any]:
    for _ in range(5):  # the consumer thread may change the set while we copy it
        try:
            return list(state.active_requests)
        except RuntimeError:
            time.sleep(0.01)
    return []


class CancelWatchdog:
    """A daemon thread; ``check()`` is one pass (tests and the loop call it)."""

    def __init__(self, rt: Runtime, worker_id: str) -> None:
        self.rt = rt
        self.worker_id = worker_id
        self.grace_s = rt.settings.cancel_grace_s
        self.every_s = min(1.0, max(0.05, self.grace_s / 4))
        self._stale_since: dict[tuple[str, int], float] = {}
        self._killed: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="reel-cancel-watchdog", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                with forksafe.quiet():
                    self.check()
            except Exception:
                log.exception("cancel watchdog pass failed")

    def check(self) -> None:
        runs: dict[tuple[str, int], int] = {}
        for req in _active_requests():
            try:
                key = (str(req.args[0]), int(req.args[1]))
            except (IndexError, TypeError, ValueError):
                continue
            if req.worker_pid:
                runs[key] = req.worker_pid
        self._stale_since = {k: v for k, v in self._stale_since.items() if k in runs}
        self._killed &= set(runs.values())
        if not runs:
            return
        with self.rt.sessions() as session:
            rows = session.execute(
                select(Task.id, Task.status, Task.attempts, Task.worker_id).where(
                    Task.id.in_({task_id for task_id, _ in runs})
                )
            ).all()
        records = {r.id: r for r in rows}
        now = time.monotonic()
        for (task_id, attempt), pid in runs.items():
            rec = records.get(task_id)
            stale = (
                rec is None or rec.attempts != attempt or rec.status in ("cancelled", "failed", "succeeded")
            )
            if not stale:
                self._stale_since.pop((task_id, attempt), None)
                continue
            since = self._stale_since.setdefault((task_id, attempt), now)
            if now - since >= self.grace_s and pid not in self._killed:
                why = (
                    "superseded"
                    if rec is not None and rec.attempts != attempt
                    else (rec.status if rec else "gone")
                )
                log.warning(
                    "task %s attempt %s is %s but its process %s still runs after %gs: killing it",
                    task_id,
                    attempt,
                    why,
                    pid,
                    self.grace_s,
                )
                self._killed.add(pid)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
