"""The SSRF guard: callback URLs to loopback, private and link-local addresses are refused."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from reel_host.api.app import create_app
from reel_host.callbacks.targets import DestinationRefused, check_destination, destination_of
from reel_host.services import auth
from reel_host.settings import Settings


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://10.1.2.3/",
        "http://192.168.0.10/",
        "http://172.16.5.5/",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0/",
        "http://[fe80::1]/",
        "ftp://93.184.216.34/",
        "http:///nohost",
    ],
)
def test_check_destination__refuses_non_public(url):
    with pytest.raises(DestinationRefused):
        check_destination(url, allow_private=False)


def test_check_destination__allows_public_and_private_when_told():
    check_destination("https://93.184.216.34/hook", allow_private=False)
    check_destination("http://127.0.0.1:9/hook", allow_private=True)
    assert destination_of("https://Example.com/x") == "https://example.com:443"


@pytest.fixture
def api(tmp_path):
    app = create_app(Settings(home=tmp_path, secret_key="s", admin_key="a"))
    rt = app.state.runtime
    rt.migrate()
    with rt.sessions() as session:
        auth.create_project(session, "p")
        _, key = auth.create_key(session, "p")
        session.commit()
    with TestClient(app) as client:
        client.headers["Authorization"] = f"Bearer {key}"
        yield client
    rt.engine.dispose()


def test_submit__refuses_a_private_callback_url_naming_it(api):
    url = "http://169.254.169.254/latest/meta-data"
    r = api.post(
        "/api/v1/tasks/submit",
        json={"generator": "test.echo", "params": {"text": "x"}, "callback": {"url": url}},
    )
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "callback_url_refused"
    assert url in error["message"] and "link-local" in error["message"]
    assert error["details"][0]["field"] == "callback.url"


def test_submit__refuses_an_unresolvable_callback_host(api):
    r = api.post(
        "/api/v1/tasks/submit",
        json={
            "generator": "test.echo",
            "params": {"text": "x"},
            "callback": {"url": "http://no-such-host.invalid/hook"},
        },
    )
    assert r.status_code == 422
    assert "does not resolve" in r.json()["error"]["message"]
