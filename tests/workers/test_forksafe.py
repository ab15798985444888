"""A pool child forked while a background thread works must not inherit that thread's locks."""

from __future__ import annotations

import os
import threading

from reel_host import forksafe


def _fork_and_try(lock: threading.Lock) -> bool:
    """Fork; the child reports whether it could take ``lock`` within a second."""
    pid = os.fork()
    if pid == 0:  # the child: what a new pool child does first is use the records (locks)
        os._exit(0 if lock.acquire(timeout=1.0) else 1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def test_a_fork_waits_until_the_background_pass_ends__the_child_gets_its_locks():
    forksafe.install()
    lock = threading.Lock()  # stands in for SQLite's mutex, a pool's or a log buffer's lock
    inside, release = threading.Event(), threading.Event()

    def background_pass() -> None:
        with forksafe.quiet(), lock:
            inside.set()
            release.wait(5)

    thread = threading.Thread(target=background_pass)
    thread.start()
    inside.wait(5)
    threading.Timer(0.3, release.set).start()  # the pass ends while the fork waits for it
    assert _fork_and_try(lock)  # without the gate the child would find the lock held forever
    thread.join(5)


def test_without_the_gate_the_child_inherits_a_held_lock():
    """The hazard itself, so the test above cannot pass for another reason."""
    lock = threading.Lock()
    inside, release = threading.Event(), threading.Event()

    def background_pass() -> None:  # not inside forksafe.quiet()
        with lock:
            inside.set()
            release.wait(5)

    thread = threading.Thread(target=background_pass)
    thread.start()
    inside.wait(5)
    try:
        assert not _fork_and_try(lock)
    finally:
        release.set()
        thread.join(5)
