"""Inputs that once answered 500: each is now a 4xx with the error envelope, and echoes stay bounded."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.security.conftest import ADMIN_KEY


def assert_envelope(r: httpx.Response, status: int | tuple[int, ...]) -> dict:
    wanted = status if isinstance(status, tuple) else (status,)
    assert r.status_code in wanted, (r.status_code, r.text[:500])
    body = r.json()
    assert set(body) == {"error"} and {"code", "message", "details"} <= set(body["error"]), body
    return body["error"]


@pytest.mark.parametrize("method,path", [
    ("GET", "/tasks/%00/status"),
    ("GET", "/tasks/tsk_%00/logs"),
    ("GET", "/projects/default/tasks?generator=%00"),
    ("GET", "/projects/default/tasks?cursor=a%00b"),
    ("POST", "/tasks/tsk_x/callbacks/%00/redeliver"),
    ("DELETE", "/projects/default/keys/%00"),
])
def test_nul_byte__in_path_or_query_is_400(api, method, path):
    with api.client() as c:
        error = assert_envelope(c.request(method, path), 400)
    assert "NUL" in error["message"]


def test_integer_out_of_range__is_4xx(api):
    task = api.submit()
    with api.client() as c:
        assert_envelope(c.get(f"/tasks/{task['id']}/logs", params={"attempt": "41306066082301198336"}), (400, 422))


@pytest.mark.parametrize("raw", [
    b'{"generator": "test.echo", "params": {"text": "\\ud800"}}',
    b'{"generator": "test.echo", "params": {"text": "hi"}, "priority": 1e400}',
    b'{"generator": "\\udfff", "params": {}}',
    b'{"generator": "test.echo", "params": {"\\ud800": 1}}',
])
def test_unencodable_values__answer_4xx_that_encodes(api, raw):
    with api.client() as c:
        r = c.post("/tasks/submit", content=raw, headers={"Content-Type": "application/json"})
    assert_envelope(r, (400, 422))
    json.dumps(r.json(), allow_nan=False)


@pytest.mark.parametrize("path,status", [("/projects", 403), ("/workers/status", 401)])
def test_non_ascii_bearer__is_refused_not_crashed(api, path, status):
    with httpx.Client(base_url=api.url + "/api/v1") as c:
        r = c.request("POST" if path == "/projects" else "GET", path,
                      json={"name": "x"} if path == "/projects" else None,
                      headers={"Authorization": "Bearer é".encode("latin-1")})
    assert_envelope(r, status)


def test_chunked_body_over_the_limit__is_413(api):
    def chunks():
        for _ in range(2 * 1024):
            yield b"x" * 1024  # 2 MiB without a Content-Length

    with api.client() as c:
        r = c.post("/tasks/submit", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.headers.get("content-length") is None or int(r.headers["content-length"]) < 1000
    assert_envelope(r, 413)


def test_huge_unknown_parameter__echo_is_bounded(api):
    name = "p" * 900_000
    with api.client() as c:
        r = c.post("/tasks/submit", json={"generator": "test.echo", "params": {"text": "hi", name: 1}})
    assert_envelope(r, (400, 422))
    assert len(r.content) < 10_000


def test_huge_unknown_body_field__echo_is_bounded(api):
    with api.client() as c:
        r = c.post("/tasks/submit", json={"generator": "test.echo", "params": {}, "q" * 900_000: 1})
    assert_envelope(r, 422)
    assert len(r.content) < 10_000


def test_method_not_allowed__says_which_are(api):
    with api.client() as c:
        r = c.put("/tasks/submit", json={})
    assert_envelope(r, 405)
    assert "POST" in r.headers["allow"]


def test_admin_key_with_odd_characters__still_works_when_right(api):
    with httpx.Client(base_url=api.url + "/api/v1", headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as c:
        assert c.get("/projects/default/keys").status_code == 200
