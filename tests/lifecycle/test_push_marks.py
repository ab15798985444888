"""The push hub never loses a wake-up that lands between a waiter's read and its wait."""

from __future__ import annotations

import asyncio
import threading
import time
from types import SimpleNamespace

from reel_host.lifecycle.push import TaskHub


def quiet_hub() -> TaskHub:
    """A hub whose listener is not started: the test announces changes itself."""
    hub = TaskHub(SimpleNamespace(engine=SimpleNamespace(dialect=SimpleNamespace(name="postgresql"))))
    hub._thread = threading.current_thread()  # stands in for the listener thread
    return hub


def test_a_change_announced_after_the_mark_wakes_at_once():
    hub = quiet_hub()

    async def scenario() -> tuple[bool, float]:
        mark = hub.mark()  # taken before the waiter reads the task
        hub._wake("tsk_a")  # the task finishes after the read, before the wait
        started = time.monotonic()
        woke = await hub.wait("tsk_a", 5.0, since=mark)
        return woke, time.monotonic() - started

    woke, waited = asyncio.run(scenario())
    assert woke and waited < 1.0


def test_a_change_of_another_task_or_before_the_mark_does_not_count():
    hub = quiet_hub()

    async def scenario() -> list[bool]:
        hub._wake("tsk_a")
        mark = hub.mark()
        hub._wake("tsk_b")
        return [await hub.wait("tsk_a", 0.05, since=mark), await hub.wait("tsk_c", 0.05, since=mark)]

    assert asyncio.run(scenario()) == [False, False]


def test_a_listener_reconnect_counts_as_a_change_of_everything():
    hub = quiet_hub()

    async def scenario() -> bool:
        mark = hub.mark()
        hub._wake_all()  # the listener came back: what changed while it was away is unknown
        return await hub.wait("tsk_a", 5.0, since=mark)

    assert asyncio.run(scenario())


def test_a_waiter_registered_before_the_change_is_woken_from_another_thread():
    hub = quiet_hub()

    async def scenario() -> bool:
        mark = hub.mark()
        threading.Timer(0.05, hub._wake, args=("tsk_a",)).start()
        return await hub.wait("tsk_a", 5.0, since=mark)

    assert asyncio.run(scenario())


def test_the_announced_status_is_kept_until_a_reconnect_makes_it_unknown():
    hub = quiet_hub()
    hub._wake("tsk_a", "running")
    assert hub.announced_status("tsk_a") == "running"
    hub._wake("tsk_a", "succeeded")
    assert hub.announced_status("tsk_a") == "succeeded"
    hub._wake_all()
    assert hub.announced_status("tsk_a") is None


def test_while_the_listener_is_not_listening_waiters_look_again_soon():
    hub = quiet_hub()  # never connected: a notification now could be missed

    async def scenario() -> tuple[bool, float]:
        started = time.monotonic()
        woke = await hub.wait("tsk_a", 30.0, since=hub.mark())
        return woke, time.monotonic() - started

    woke, waited = asyncio.run(scenario())
    assert not woke and waited < 5.0  # UNHEARD_LOOK_S, not the 30 s asked for
    hub.listening = True

    async def listening() -> bool:
        return await hub.wait("tsk_a", 0.8, since=hub.mark())

    started = time.monotonic()
    assert not asyncio.run(listening()) and time.monotonic() - started >= 0.7
