"""Rate limits by key: a token bucket per key (``hit`` answers None or the seconds to wait).

This is the minimal, one-process form of the shared limiter (login throttling needs it); the
security work replaces it with one that all API processes share. The interface is the contract:
``Throttle(rt).hit(key, rate_per_s, burst) -> float | None``.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reel_host.runtime import Runtime

_LOCK = threading.Lock()
_MAX_KEYS = 100_000


class Throttle:
    """Token buckets: ``burst`` hits at once, then ``rate_per_s`` hits per second."""

    def __init__(self, rt: Runtime) -> None:
        # buckets live with the runtime: one API process, one set (two apps in one test process stay apart)
        self._buckets: dict[str, tuple[float, float]] = rt.__dict__.setdefault("_throttle_buckets", {})

    def hit(self, key: str, rate_per_s: float, burst: int) -> float | None:
        """Take one token for ``key``: None when allowed, else the seconds until one is free."""
        now = time.monotonic()
        with _LOCK:
            tokens, at = self._buckets.get(key, (float(burst), now))
            tokens = min(float(burst), tokens + (now - at) * rate_per_s)
            if tokens >= 1.0:
                if len(self._buckets) >= _MAX_KEYS:
                    self._buckets.clear()
                self._buckets[key] = (tokens - 1.0, now)
                return None
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / rate_per_s if rate_per_s > 0 else float("inf")
