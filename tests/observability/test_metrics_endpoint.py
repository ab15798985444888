"""GET /metrics: open to loopback, a bearer token for anyone else; bounded route labels."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from reel_host.api.app import create_app
from reel_host.settings import Settings

from tests.observability.helpers import parse, value


def get(app, path: str, client_host: str, headers: dict[str, str] | None = None) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=(client_host, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://reel") as c:
            return await c.get(path, headers=headers or {})

    return asyncio.run(go())


@pytest.fixture
def app_with_token(tmp_path: Path):
    app = create_app(Settings(home=tmp_path, metrics_token="s3cret-token"))
    app.state.runtime.migrate()
    return app


def test_metrics_endpoint__loopback_is_open_others_need_the_token(app_with_token):
    assert get(app_with_token, "/metrics", "127.0.0.1").status_code == 200
    assert get(app_with_token, "/metrics", "::1").status_code == 200
    remote = get(app_with_token, "/metrics", "10.1.2.3")
    assert remote.status_code == 401 and remote.json()["error"]["code"] == "unauthorized"
    wrong = get(app_with_token, "/metrics", "10.1.2.3", {"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    right = get(app_with_token, "/metrics", "10.1.2.3", {"Authorization": "Bearer s3cret-token"})
    assert right.status_code == 200 and "reel_queue_depth" in right.text


def test_metrics_endpoint__without_a_token_only_loopback(tmp_path):
    app = create_app(Settings(home=tmp_path))
    app.state.runtime.migrate()
    refused = get(app, "/metrics", "192.168.0.9")
    assert refused.status_code == 403 and "REEL_METRICS_TOKEN" in refused.json()["error"]["message"]


def test_metrics_endpoint__routes_are_templates_and_unknown_paths_one_label(app_with_token):
    for task in ("tsk_a", "tsk_b", "tsk_c"):
        assert get(app_with_token, f"/api/v1/tasks/{task}/status", "127.0.0.1").status_code == 401
    for n in range(3):
        assert get(app_with_token, f"/api/v1/no/such/path/{n}", "127.0.0.1").status_code == 404  # not the console
    samples = parse(get(app_with_token, "/metrics", "127.0.0.1").text)
    routes = {dict(labels).get("route") for name, labels in samples if name == "reel_http_requests_total"}
    assert "/api/v1/tasks/{task_id}/status" in routes and "unmatched" in routes
    assert not any(r and "tsk_" in r for r in routes)
    assert value(samples, "reel_http_requests_total", route="unmatched", method="GET", status="404") >= 3
