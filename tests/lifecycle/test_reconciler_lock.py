"""A reconciler frozen mid-pass (SIGSTOP, a suspended VM) must not stop every other reconciler."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from reel_host.lifecycle import dispatch
from reel_host.runtime import Runtime

from tests.utils.stack import FAST, create_pg_database, drop_pg_database, settings_from_env


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    name, url = create_pg_database()
    rt = Runtime(settings_from_env({**FAST, "REEL_DATABASE_URL": url, "REEL_HOME": str(tmp_path),
                                    "REEL_BROKER_URL": "redis://127.0.0.1:6379/13"}))
    try:
        rt.migrate()
        yield rt
    finally:
        rt.engine.dispose()
        drop_pg_database(name)


def test_a_frozen_lock_holder_loses_the_lock_and_another_reconciler_goes_on(runtime, monkeypatch):
    monkeypatch.setattr(dispatch, "LOCK_HOLD_MAX_S", 1.0)
    passes: list[str] = []
    frozen, thaw = threading.Event(), threading.Event()

    def one_pass(rt: Runtime, limit: int = 500) -> int:
        if rt is not runtime:  # the reconcilers of other tests' API servers in this process
            return 0
        passes.append(threading.current_thread().name)
        if len(passes) == 1:  # the first holder freezes while it holds the lock
            frozen.set()
            thaw.wait(30)
        return 0

    monkeypatch.setattr(dispatch, "dispatch_due", one_pass)
    holder = threading.Thread(target=lambda: _quietly(dispatch.Reconciler(runtime).run_once, sweep=False),
                              name="frozen")
    holder.start()
    try:
        assert frozen.wait(10)
        other = dispatch.Reconciler(runtime)
        other.run_once(sweep=False)
        assert passes == ["frozen"]  # locked out while the holder is within its time
        deadline = time.monotonic() + 20
        while len(passes) == 1 and time.monotonic() < deadline:
            other.run_once(sweep=False)  # PostgreSQL ends the frozen holder's transaction after 1 s
            time.sleep(0.1)
        assert len(passes) == 2, "the lock was never taken back from the frozen reconciler"
    finally:
        thaw.set()
        holder.join(10)


def _quietly(fn, **kwargs) -> None:  # type: ignore[no-untyped-def]
    with contextlib.suppress(Exception):  # its connection was closed under it: what a thawed holder meets
        fn(**kwargs)
