"""Forking a pool child safely from a worker whose main process also runs threads.

billiard forks a new pool child whenever one dies (killed, out of memory, a forced
cancel). A fork copies the whole process as it is at that instant, including every lock
another thread holds right then, and in the child nobody will ever release them: SQLite's
process-wide mutexes and shared-memory index of a WAL database (the embedded mode's
records), kombu's connection pools, a half-written log line's buffer lock, a metric's
lock. The child then hangs at its first claim, forever, holding the message of a task
that stays ``queued`` (a CI run saw exactly that: a child forked while the worker's
reconciler thread was reading the records).

So the worker's background threads (heartbeat, reconciler, cancel watchdog) do each pass
inside :func:`quiet`, and a fork waits, through :func:`install`'s ``os.register_at_fork``
hook, until no pass runs (at most :data:`FORK_WAIT_S`; a pass stuck longer, such as one
waiting on a database that is down, is logged and the fork goes on). Passes are short
database round trips, so a fork waits milliseconds. The thread that forks (billiard's,
the main thread) must never fork from inside :func:`quiet`.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger("reel.worker")

FORK_WAIT_S = 30.0


class ForkGate:
    """Counts passes in flight; a fork holds the gate shut and waits for them to end."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._active = 0

    @contextmanager
    def quiet(self) -> Iterator[None]:
        """One pass of a background thread: no fork happens while it runs."""
        with self._cond:  # waits here while a fork is under way
            self._active += 1
        try:
            yield
        finally:
            with self._cond:
                self._active -= 1
                if not self._active:
                    self._cond.notify_all()

    def before_fork(self) -> None:
        self._cond.acquire()
        deadline = time.monotonic() + FORK_WAIT_S
        while self._active and time.monotonic() < deadline:
            self._cond.wait(deadline - time.monotonic())
        if self._active:
            log.warning("forking while %d background pass(es) still run (over %gs)", self._active, FORK_WAIT_S)

    def after_fork_in_parent(self) -> None:
        self._cond.release()

    def after_fork_in_child(self) -> None:
        self.__init__()  # type: ignore[misc]  # a fresh lock: no thread of the parent lives here


GATE = ForkGate()
quiet = GATE.quiet
_installed = False


def install() -> None:
    """Make every fork of this process wait for the background passes (once per process)."""
    global _installed
    if _installed:
        return
    os.register_at_fork(before=GATE.before_fork, after_in_parent=GATE.after_fork_in_parent,
                        after_in_child=GATE.after_fork_in_child)
    _installed = True
