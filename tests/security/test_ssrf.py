"""The SSRF guard (reel_sdk.net): resolve once, check, connect to the checked address; no rebinding."""

from __future__ import annotations

import ipaddress

import httpx
import pytest
import reel_sdk.net as net
from reel_host.callbacks import delivery
from reel_host.callbacks.targets import DestinationRefused, check_destination
from reel_host.records.models import CallbackDelivery
from sqlalchemy import select

from tests.callbacks.receivers import Receiver

PUBLIC = "93.184.216.34"  # never connected to: every stub below turns it away or rebinds first


class Rebinding:
    """A resolver stub: answers a public address first, then loopback (DNS rebinding)."""

    def __init__(self, first: str = PUBLIC, then: str = "127.0.0.1") -> None:
        self.answers = [first]
        self.then = then
        self.calls: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append(host)
        return [self.answers.pop(0) if self.answers else self.then]


@pytest.mark.parametrize("address,reason", [
    ("127.0.0.1", "loopback"),
    ("10.1.2.3", "private"),
    ("169.254.169.254", "link-local"),
    ("100.64.0.1", "non-global"),  # carrier-grade NAT
    ("0.0.0.0", "private"),  # 0.0.0.0/8 is "this network"
    ("::1", "loopback"),
    ("fd00::1", "private"),
    ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
    ("::ffff:10.0.0.1", "private"),
    ("::127.0.0.1", "loopback"),  # IPv4-compatible
    ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
    ("2002:c0a8:101::1", "private"),  # 6to4 of 192.168.1.1
    ("2002:a9fe:a9fe::", "link-local"),  # 6to4 of the cloud metadata address
    ("64:ff9b::7f00:1", "loopback"),  # NAT64 of 127.0.0.1
    ("64:ff9b::a00:1", "private"),  # NAT64 of 10.0.0.1
    ("64:ff9b:1::a00:1", "private"),  # local-use NAT64
])
def test_refused_reason__private_and_embedded_private(address, reason):
    assert reason in (net.refused_reason(ipaddress.ip_address(address)) or "")


@pytest.mark.parametrize("address", ["8.8.8.8", "2606:4700::1111", "2002:808:808::", "64:ff9b::808:808"])
def test_refused_reason__public_allowed(address):
    assert net.refused_reason(ipaddress.ip_address(address)) is None


def test_one_private_answer_refuses_the_name():
    with pytest.raises(net.AddressRefused):
        net.resolve_checked("mixed.test", 80, resolver=lambda h, p: [PUBLIC, "10.0.0.1"])


@pytest.fixture()
def receiver():
    r = Receiver().start()
    yield r
    r.stop()


def test_rebinding__checked_public_then_loopback_never_connects(receiver):
    """The old guard resolved to check, then httpx resolved again to connect: the second answer won."""
    stub = Rebinding()
    url = f"http://rebind.test:{receiver.port}/hook"
    net.check_url(url, resolver=stub)  # the early check sees the public answer
    with net.guarded_client(resolver=stub) as client, pytest.raises(net.AddressRefused, match="loopback"):
        client.post(url, json={"x": 1})  # the connection resolves once more, checks that answer, refuses
    assert receiver.requests == [] and stub.calls == ["rebind.test", "rebind.test"]


def test_pinning__connects_to_the_checked_address_keeping_the_host_header(receiver):
    stub = Rebinding(first="127.0.0.1", then="10.9.9.9")  # a second lookup would go nowhere
    with net.guarded_client(allow_private=True, resolver=stub) as client:
        r = client.get(f"http://pinned.example:{receiver.port}/hook")
    assert r.status_code == 200
    assert receiver.requests[0].headers["host"] == f"pinned.example:{receiver.port}"
    assert stub.calls == ["pinned.example"]  # resolved once, for the connection itself


def test_safe_url__drops_credentials():
    assert net.safe_url("https://user:pw@cms.example.com:8443/hook?token=abc#x") == "https://cms.example.com:8443/hook"


def test_callback_sender__rebinding_name_is_refused_not_delivered(api, receiver, monkeypatch):
    """The whole path: submit accepts the name (public then), the sender's connection finds loopback."""
    stub = Rebinding()
    monkeypatch.setattr(net, "system_resolver", stub)  # what every guarded connection in this process asks
    delivery._clients.clear()
    url = f"http://rebind.test:{receiver.port}/hook"
    task = api.submit(callback={"url": url, "events": ["cancelled"]})
    with api.client() as c:
        assert c.delete(f"/tasks/{task['id']}/cancel").status_code == 200
    delivery.deliver_task(api.runtime, task["id"])
    delivery._clients.clear()
    with api.runtime.sessions() as session:
        rows = list(session.scalars(select(CallbackDelivery).where(CallbackDelivery.task_id == task["id"])))
    assert receiver.requests == []
    assert rows and all(r.status != "delivered" for r in rows)
    assert any("loopback" in (r.last_error or "") for r in rows), [r.last_error for r in rows]


def test_check_destination__names_no_credentials():
    with pytest.raises(DestinationRefused) as err:
        check_destination("http://user:hunter2@127.0.0.1/hook?token=s3cret", allow_private=False)
    assert "hunter2" not in str(err.value) and "s3cret" not in str(err.value)


def test_guarded_transport__verifies_tls_against_the_host_name(tmp_path):
    """The connection goes to the checked address, but TLS still checks the certificate of the name."""
    import http.server
    import ssl
    import threading

    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("pinned.example")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = server_ctx.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    try:
        stub = lambda h, p: ["127.0.0.1"]  # noqa: E731
        with net.guarded_client(allow_private=True, resolver=stub, verify=client_ctx) as c:
            assert c.get(f"https://pinned.example:{port}/").text == "ok"
        with net.guarded_client(allow_private=True, resolver=stub, verify=client_ctx) as c, \
                pytest.raises(httpx.ConnectError):
            c.get(f"https://other.example:{port}/")  # same address, a name the certificate does not hold
    finally:
        server.shutdown()
