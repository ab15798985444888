"""The shared throttle: token buckets in the records database, one limit across processes."""

from __future__ import annotations

import threading

import pytest
from reel_host.errors import TooManyRequests
from reel_host.runtime import Runtime
from reel_host.settings import Settings
from reel_host.throttle import Throttle

from tests.utils.stack import create_pg_database, drop_pg_database


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'reel.db'}"
        return
    name, url = create_pg_database()
    try:
        yield url
    finally:
        drop_pg_database(name)


def _runtime(url: str, tmp_path) -> Runtime:
    rt = Runtime(Settings(database_url=url, home=tmp_path / "home"))
    rt.migrate()
    return rt


def test_hit__allows_a_burst_then_says_how_long_to_wait(db_url, tmp_path):
    rt = _runtime(db_url, tmp_path)
    throttle = Throttle(rt)
    assert [throttle.hit("ip:1", rate_per_s=0.5, burst=3) for _ in range(3)] == [None, None, None]
    wait = throttle.hit("ip:1", rate_per_s=0.5, burst=3)
    assert wait is not None and 0 < wait <= 2.0
    assert throttle.hit("ip:2", rate_per_s=0.5, burst=3) is None  # another key has its own bucket
    rt.engine.dispose()


def test_hit__one_limit_shared_by_every_process(db_url, tmp_path):
    """Two runtimes (two API processes: own engines, own memo) and many threads share one bucket."""
    rts = [_runtime(db_url, tmp_path), _runtime(db_url, tmp_path)]
    throttles = [Throttle(rt) for rt in rts]
    allowed: list[int] = []
    lock = threading.Lock()

    def hammer(t: Throttle) -> None:
        for _ in range(10):
            if t.hit("login:alice", rate_per_s=0.001, burst=7) is None:
                with lock:
                    allowed.append(1)

    threads = [threading.Thread(target=hammer, args=(throttles[i % 2],)) for i in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(allowed) == 7
    for rt in rts:
        rt.engine.dispose()


def test_hit__refills_with_time(db_url, tmp_path, monkeypatch):
    import reel_host.throttle as mod

    rt = _runtime(db_url, tmp_path)
    throttle = Throttle(rt)
    clock = [1_000_000.0]
    monkeypatch.setattr(mod.time, "time", lambda: clock[0])
    assert throttle.hit("k", rate_per_s=1.0, burst=2, cost=2) is None
    wait = throttle.hit("k", rate_per_s=1.0, burst=2, cost=2)
    assert wait == pytest.approx(2.0)
    clock[0] += 2.5
    throttle._refused.clear()  # the memo counts monotonic time, which this test does not move
    assert throttle.hit("k", rate_per_s=1.0, burst=2, cost=2) is None
    rt.engine.dispose()


def test_hit__long_and_odd_keys_are_digested(db_url, tmp_path):
    rt = _runtime(db_url, tmp_path)
    throttle = Throttle(rt)
    assert throttle.hit("x" * 5000, rate_per_s=1, burst=1) is None
    assert throttle.hit("x" * 5000, rate_per_s=1, burst=1) is not None
    assert throttle.hit("a\x00\ud800", rate_per_s=1, burst=1) is None
    rt.engine.dispose()


def test_hit__refuses_impossible_costs(tmp_path):
    throttle = Throttle(_runtime(f"sqlite:///{tmp_path / 'r.db'}", tmp_path))
    with pytest.raises(ValueError):
        throttle.hit("k", rate_per_s=1, burst=2, cost=3)


def test_too_many_requests__carries_retry_after():
    exc = TooManyRequests("slow down", retry_after=2.5, code="login_throttled")
    assert (exc.status, exc.code, exc.retry_after) == (429, "login_throttled", 2.5)


def test_hit__a_refused_key_costs_no_query_until_its_wait_is_over(tmp_path):
    from sqlalchemy import event

    rt = _runtime(f"sqlite:///{tmp_path / 'r.db'}", tmp_path)
    throttle = Throttle(rt)
    assert throttle.hit("flood", rate_per_s=0.01, burst=1) is None
    assert throttle.hit("flood", rate_per_s=0.01, burst=1) is not None
    statements = []
    event.listen(rt.engine, "before_cursor_execute", lambda *a, **k: statements.append(1))
    for _ in range(100):
        assert throttle.hit("flood", rate_per_s=0.01, burst=1) is not None
    assert throttle.waiting("flood") is not None and throttle.waiting("other") is None
    assert statements == []
    rt.engine.dispose()
