"""Subscribers woken by the same change share one read, but never a read older than their mark."""

from __future__ import annotations

import asyncio
import threading

import pytest
from reel_host.api.shared_reads import SharedReads


def counting_read(gate: threading.Event) -> tuple[list[int], object]:
    calls: list[int] = []

    def read() -> int:
        calls.append(1)
        gate.wait(5)
        return len(calls)

    return calls, read


def test_concurrent_subscribers_with_older_marks_share_one_read():
    async def scenario() -> tuple[list[int], list[int]]:
        reads, gate = SharedReads(), threading.Event()
        calls, read = counting_read(gate)
        leader = asyncio.ensure_future(reads.read("t", 5, read))
        await asyncio.sleep(0.01)
        followers = [asyncio.ensure_future(reads.read("t", mark, read)) for mark in (3, 4, 5)]
        await asyncio.sleep(0.01)
        gate.set()
        return calls, list(await asyncio.gather(leader, *followers))

    calls, results = asyncio.run(scenario())
    assert len(calls) == 1 and results == [1, 1, 1, 1]


def test_a_subscriber_with_a_newer_mark_reads_again():
    async def scenario() -> list[int]:
        reads, gate = SharedReads(), threading.Event()
        calls, read = counting_read(gate)
        first = asyncio.ensure_future(reads.read("t", 5, read))
        await asyncio.sleep(0.01)
        newer = asyncio.ensure_future(reads.read("t", 6, read))  # a change was announced after the first began
        await asyncio.sleep(0.01)
        gate.set()
        await asyncio.gather(first, newer)
        return calls

    assert len(asyncio.run(scenario())) == 2


def test_a_failed_read_fails_every_sharer_and_is_forgotten():
    async def scenario() -> SharedReads:
        reads = SharedReads()

        def boom() -> None:
            raise LookupError("gone")

        results = await asyncio.gather(reads.read("t", 1, boom), reads.read("t", 1, boom), return_exceptions=True)
        assert all(isinstance(r, LookupError) for r in results)
        return reads

    assert asyncio.run(scenario()).in_flight() == 0


def test_a_leader_that_disconnects_does_not_cancel_its_followers():
    async def scenario() -> int:
        reads, gate = SharedReads(), threading.Event()
        _calls, read = counting_read(gate)
        leader = asyncio.ensure_future(reads.read("t", 1, read))
        await asyncio.sleep(0.01)
        follower = asyncio.ensure_future(reads.read("t", 1, read))
        await asyncio.sleep(0.01)
        leader.cancel()
        gate.set()
        with pytest.raises(asyncio.CancelledError):
            await leader
        return await follower

    assert asyncio.run(scenario()) == 1
