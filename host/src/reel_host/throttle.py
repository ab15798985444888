"""One rate limiter for every API process: token buckets kept in the records database.

Why the database and not Redis: every API process already holds the database (Redis is
only the broker of the distributed mode and absent from the embedded one), so one code
path works in both modes and is tested on SQLite and PostgreSQL. A hit is one
conditional ``UPDATE`` (refill by elapsed time, take ``cost`` tokens only if that many are
there): atomic on both backends without locks held across statements. The first hit of a
key inserts its bucket. A process also remembers the keys it saw refused until their
wait is over, so a client hammering a refused key costs no query at all: tokens only
ever grow with time, so nothing can allow that key (at that cost) sooner.

Users: failed API-key lookups per client address (``reel_host.api.deps``), console logins,
per-project limits. Use the process's instance, ``rt.throttle`` (its memory of refusals is
per instance), and turn a refusal into ``reel_host.errors.TooManyRequests``, which the API
answers with 429 and ``Retry-After``::

    wait = rt.throttle.hit(f"login:{email}", rate_per_s=0.1, burst=5)
    if wait is not None:
        raise TooManyRequests("too many login attempts", retry_after=wait, code="login_throttled")
"""

from __future__ import annotations

import hashlib
import threading
import time
from typing import TYPE_CHECKING, cast

from sqlalchemy import Float, Table, bindparam, case, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from reel_host.records.db import rowcount
from reel_host.records.models import ThrottleBucket

if TYPE_CHECKING:
    from reel_host.runtime import Runtime

_T = cast("Table", ThrottleBucket.__table__)
_MEMO_MAX = 10000
_SWEEP_EVERY_S = 600.0
IDLE_HORIZON_S = 24 * 3600.0  # a bucket untouched this long is full again for any sane rate; it is dropped


class Throttle:
    """Token buckets by key: ``rate_per_s`` tokens flow in, at most ``burst`` are kept."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._lock = threading.Lock()
        self._refused: dict[str, tuple[float, int]] = {}  # key -> (monotonic time it may pass, cost refused)
        self._next_sweep = time.monotonic() + _SWEEP_EVERY_S

    def hit(self, key: str, rate_per_s: float, burst: int, cost: int = 1) -> float | None:
        """Take ``cost`` tokens from ``key``'s bucket.

        Returns None when allowed, else the seconds to wait before the same hit can pass
        (the ``Retry-After``). A refused hit takes nothing.
        """
        if rate_per_s <= 0 or burst < 1 or cost < 1:
            raise ValueError("rate_per_s must be > 0, burst and cost >= 1")
        if cost > burst:
            raise ValueError(f"cost {cost} can never pass a bucket of burst {burst}")
        key = _bucket_key(key)
        mono = time.monotonic()
        with self._lock:
            memo = self._refused.get(key)
            if memo is not None:
                if mono < memo[0] and cost >= memo[1]:
                    return memo[0] - mono
                if mono >= memo[0]:
                    del self._refused[key]
        wait = self._hit_db(key, rate_per_s, burst, cost)
        if wait is not None:
            with self._lock:
                if len(self._refused) >= _MEMO_MAX:
                    self._refused.clear()
                self._refused[key] = (mono + wait, cost)
        self._maybe_sweep(mono)
        return wait

    def waiting(self, key: str) -> float | None:
        """Seconds this process already knows ``key`` must wait (a refusal it saw), without a query."""
        key = _bucket_key(key)
        with self._lock:
            memo = self._refused.get(key)
            if memo is None:
                return None
            wait = memo[0] - time.monotonic()
            if wait <= 0:
                del self._refused[key]
                return None
            return wait

    def _hit_db(self, key: str, rate: float, burst: int, cost: int) -> float | None:
        now = time.time()
        p_now = bindparam("now", now, type_=Float)
        elapsed = case((p_now > _T.c.stamp, p_now - _T.c.stamp), else_=0.0)
        refilled = _T.c.tokens + elapsed * bindparam("rate", rate, type_=Float)
        available = case((refilled > float(burst), float(burst)), else_=refilled)
        take = (
            update(_T)
            .where(_T.c.key == key, available >= float(cost))
            .values(tokens=available - float(cost), stamp=case((p_now > _T.c.stamp, p_now), else_=_T.c.stamp))
        )
        for _ in range(2):
            with self.rt.engine.begin() as conn:
                if rowcount(conn.execute(take)) == 1:
                    return None
                row = conn.execute(select(_T.c.tokens, _T.c.stamp).where(_T.c.key == key)).first()
                if row is not None:
                    have = min(float(burst), row.tokens + max(0.0, now - row.stamp) * rate)
                    return max((cost - have) / rate, 0.001)
            try:
                with self.rt.engine.begin() as conn:
                    conn.execute(insert(_T).values(key=key, tokens=float(burst - cost), stamp=now))
                return None
            except IntegrityError:
                continue  # another process made the bucket first: take from it
        return None  # unreachable in practice: the bucket exists after the first round

    def _maybe_sweep(self, mono: float) -> None:
        if mono < self._next_sweep:
            return
        self._next_sweep = mono + _SWEEP_EVERY_S
        with self.rt.engine.begin() as conn:
            conn.execute(delete(_T).where(_T.c.stamp < time.time() - IDLE_HORIZON_S))


def _bucket_key(key: str) -> str:
    """Keys longer than the column (or with odd characters) become a digest, never truncated."""
    if len(key) <= 120 and key.isprintable() and "\x00" not in key:
        return key
    return "sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
