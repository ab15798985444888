"""Edges any caller reaches: the failed-credential throttle, /health, CORS."""

from __future__ import annotations

import httpx
import pytest

from tests.security.conftest import ADMIN_KEY
from tests.utils.stack import free_port, make_stack


@pytest.fixture(scope="module")
def strict(tmp_path_factory):
    """An embedded API allowing 5 failed credential checks per address, earning one back per 1000 s."""
    env = {"REEL_ADMIN_KEY": ADMIN_KEY, "REEL_AUTH_FAIL_BURST": "5", "REEL_AUTH_FAIL_RATE_PER_S": "0.001",
           "REEL_CORS_ORIGINS": "https://cms.example.com, https://admin.example.com/"}
    with make_stack("embedded", tmp_path_factory.mktemp("strict"), env) as s:
        yield s


def test_failed_key_lookups__throttled_per_address_with_retry_after(strict):
    with strict.client() as good:
        assert good.get("/workers/status").status_code == 200  # a live key is cached before the flood
    answers = []
    for i in range(8):
        with strict.client(f"reel_guess{i}") as c:
            answers.append(c.get("/workers/status"))
    assert [r.status_code for r in answers] == [401] * 5 + [429] * 3
    refused = answers[-1]
    assert refused.json()["error"]["code"] == "auth_throttled"
    assert int(refused.headers["Retry-After"]) >= 1
    with strict.client() as good:  # a key this process already knows still works from that address
        assert good.get("/workers/status").status_code == 200
    with httpx.Client(base_url=strict.url + "/api/v1", headers={"Authorization": "Bearer wrong-admin"}) as c:
        assert c.post("/projects", json={"name": "x"}).status_code == 429  # admin guesses count too


def test_cors__listed_origins_only(strict):
    def preflight(url: str, origin: str) -> httpx.Response:
        return httpx.options(url + "/api/v1/tasks/submit", headers={
            "Origin": origin, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type"})

    ok = preflight(strict.url, "https://cms.example.com")
    assert ok.headers.get("access-control-allow-origin") == "https://cms.example.com"
    assert preflight(strict.url, "https://admin.example.com").status_code == 200
    evil = preflight(strict.url, "https://evil.example")
    assert evil.headers.get("access-control-allow-origin") is None


def test_cors__same_origin_by_default(api):
    r = httpx.get(api.url + "/api/v1/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers


def test_health__open_without_writing(api):
    storage = api.tmp / "home" / "storage"
    before = sorted(p.name for p in storage.rglob("*")) if storage.exists() else []
    for _ in range(3):
        r = httpx.get(api.url + "/api/v1/health")
        assert r.status_code == 200 and r.json() == {"status": "ok",
                                                     "checks": {"database": "ok", "broker": "ok", "storage": "ok"}}
    after = sorted(p.name for p in storage.rglob("*")) if storage.exists() else []
    assert before == after


def test_health__failing_part_without_host_port_or_text_except_to_admin(tmp_path):
    dead = free_port()  # nothing listens here
    env = {"REEL_ADMIN_KEY": ADMIN_KEY, "REEL_BROKER_URL": f"redis://127.0.0.1:{dead}/0"}
    with make_stack("embedded", tmp_path, env) as s:
        anyone = httpx.get(s.url + "/api/v1/health", timeout=30)
        assert anyone.status_code == 503
        assert anyone.json() == {"status": "degraded",
                                 "checks": {"database": "ok", "broker": "failing", "storage": "ok"}}
        assert str(dead) not in anyone.text and "127.0.0.1" not in anyone.text
        project_key = httpx.get(s.url + "/api/v1/health", headers={"Authorization": f"Bearer {s.key}"}, timeout=30)
        assert "details" not in project_key.json()
        operator = httpx.get(s.url + "/api/v1/health", headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=30)
        assert operator.status_code == 503 and operator.json()["details"]["broker"]
