"""Single-flight reads: the subscribers of one task that one change woke share one database read.

A thousand SSE streams on one task, woken by one notification, would each open a session
and read the same rows: a thousand reads per change, which made the API process the
bottleneck. Here the first stream woken starts the read and the others await its result.

A follower may only share a read that began after its own push mark (see
:mod:`reel_host.lifecycle.push`): every change announced before the mark was committed
before that read began, so the follower sees it; a change announced after the mark wakes
the follower's next wait at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable
from typing import Any

import anyio


class SharedReads:
    """Per event loop (one per API process): reads in flight, by key, with the mark they began at."""

    def __init__(self) -> None:
        self._flights: dict[Hashable, tuple[int, asyncio.Future[Any]]] = {}

    async def read(self, key: Hashable, mark: int, fn: Callable[[], Any]) -> Any:
        """``fn()`` in a worker thread, or the result of a read of ``key`` that began at ``mark`` or later."""
        flight = self._flights.get(key)
        if flight is not None and flight[0] >= mark:
            return await asyncio.shield(flight[1])
        future: asyncio.Future[Any] = asyncio.ensure_future(anyio.to_thread.run_sync(fn))
        self._flights[key] = (mark, future)
        future.add_done_callback(lambda _f: self._forget(key, future))
        return await asyncio.shield(future)  # a leader that disconnects does not cancel its followers' read

    def _forget(self, key: Hashable, future: asyncio.Future[Any]) -> None:
        flight = self._flights.get(key)
        if flight is not None and flight[1] is future:
            del self._flights[key]
        if not future.cancelled():
            future.exception()  # retrieved, so an error nobody awaited is not logged as lost

    def in_flight(self) -> int:
        return len(self._flights)
