"""One limiter for every "at most N per period" rule: per-project submissions, login and key throttles.

A token bucket per key: ``burst`` tokens, refilled at ``rate_per_s``; a hit takes one.
``Throttle(rt).hit(key, rate_per_s, burst)`` answers None (allowed) or the seconds to
wait until a token is back. With Redis (distributed mode) the bucket lives there and is
updated by one Lua script, atomically and on Redis's clock, so the limit holds across
every API process and host. Embedded mode has one API process: the bucket lives in it.

(The security branch builds the shared version of this module; this is the same interface.)
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reel_host.runtime import Runtime

_BUCKET = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or burst
local ts = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return tostring(wait)
"""

_clients: dict[str, Any] = {}
_local: dict[str, tuple[float, float]] = {}
_lock = threading.Lock()


class Throttle:
    def __init__(self, rt: Runtime) -> None:
        self.settings = rt.settings

    def hit(self, key: str, rate_per_s: float, burst: float) -> float | None:
        """Take a token from ``key``'s bucket; None if allowed, else seconds until one is back."""
        if rate_per_s <= 0 or burst < 1:
            return None
        url = self.settings.broker_url
        if url and url.startswith(("redis://", "rediss://", "unix://")):
            wait = float(self._redis(url).eval(_BUCKET, 1, self._key(key), rate_per_s, burst))
        else:
            wait = _hit_local(key, rate_per_s, burst)
        return wait if wait > 0 else None

    def _key(self, key: str) -> str:
        return f"{self.settings.broker_prefix or ''}reel:throttle:{key}"

    @staticmethod
    def _redis(url: str) -> Any:
        client = _clients.get(url)
        if client is None:
            import redis

            client = _clients[url] = redis.Redis.from_url(url, socket_timeout=5)
        return client


def _hit_local(key: str, rate: float, burst: float) -> float:
    now = time.monotonic()
    with _lock:
        tokens, ts = _local.get(key, (burst, now))
        tokens = min(burst, tokens + max(0.0, now - ts) * rate)
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / rate
        _local[key] = (tokens, now)
    return wait
