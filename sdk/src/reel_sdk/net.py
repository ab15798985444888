"""Outbound HTTP that cannot be turned against the network behind Reel (SSRF guard).

A URL from a user (a webhook), a CMS setting or a provider's free text (a download link)
must not reach loopback, private, link-local or other non-public addresses, and a name
that resolves to a public address when checked and to ``127.0.0.1`` when connected (DNS
rebinding) must not slip through. So the check happens where the connection is made:
:class:`GuardedBackend` resolves the host once, checks every address, and connects to
the address it checked. The URL, the ``Host`` header and the TLS server name (SNI and
certificate check) stay the host name, so virtual hosts and HTTPS work as usual. Every
new connection is checked, so each redirect hop is too.

Embeddings of IPv4 in IPv6 (IPv4-mapped ``::ffff:a.b.c.d``, IPv4-compatible ``::a.b.c.d``,
6to4 ``2002::/16``, Teredo ``2001::/32``, NAT64 ``64:ff9b::/96`` and ``64:ff9b:1::/48``)
are judged by the IPv4 address they carry.

The host (callbacks, Payload calls and uploads) and plugins (the remote video
provider's downloads) share this module; it imports neither the host nor torch.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]
"""``(host, port) -> addresses``: how names are resolved (tests pass a stub; default getaddrinfo)."""

_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


class AddressRefused(ValueError):
    """A destination that resolves to an address Reel must not connect to."""


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (``socket.getaddrinfo``, TCP)."""
    infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    return [str(info[4][0]).split("%")[0] for info in infos]


def embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, compatible, 6to4, Teredo, NAT64), if any."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]  # the client's address (the server's is a public relay)
    if any(ip in net for net in _NAT64) or (ip in _IPV4_COMPATIBLE and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def refused_reason(ip: IPAddress) -> str | None:
    """Why ``ip`` is not a public destination ("loopback", "private"...), or None when it is."""
    inner = embedded_ipv4(ip)
    if inner is not None:
        reason = refused_reason(inner)
        return f"{reason} (embedded in {ip})" if reason else None
    for attr in ("is_loopback", "is_link_local", "is_private", "is_multicast", "is_reserved", "is_unspecified"):
        if getattr(ip, attr):
            return attr.removeprefix("is_").replace("_", "-")
    if not ip.is_global:
        return "non-global"
    return None


def resolve_checked(host: str, port: int, *, allow_private: bool = False,
                    resolver: Resolver | None = None) -> IPAddress:
    """Resolve ``host`` once and return the address to connect to.

    Raises:
        AddressRefused: some address of ``host`` is not public (and ``allow_private`` is off);
            one bad address refuses the name, so a resolver cannot mix a public one in.
        OSError: the name does not resolve.
    """
    host = host.strip("[]")
    try:
        addresses: list[IPAddress] = [ipaddress.ip_address(host.split("%")[0])]
    except ValueError:
        addresses = [ipaddress.ip_address(a) for a in (resolver or system_resolver)(host, port)]
    if not addresses:
        raise OSError(f"{host} does not resolve")
    if not allow_private:
        for ip in addresses:
            reason = refused_reason(ip)
            if reason:
                raise AddressRefused(f"{host} resolves to {ip}, a {reason} address")
    return addresses[0]


def check_url(url: str, *, allow_private: bool = False, resolver: Resolver | None = None) -> IPAddress:
    """Check an http(s) URL's host now (a fast early answer; the connection checks again)."""
    parts = httpx.URL(url)
    if parts.scheme not in ("http", "https") or not parts.host:
        raise AddressRefused(f"URL {safe_url(url)!r} must be http(s)://host/...")
    return resolve_checked(parts.host, parts.port or (443 if parts.scheme == "https" else 80),
                           allow_private=allow_private, resolver=resolver)


class GuardedBackend(httpcore.NetworkBackend):
    """httpcore's network backend, connecting only to the checked address of each host."""

    def __init__(self, *, allow_private: bool = False, resolver: Resolver | None = None,
                 inner: httpcore.NetworkBackend | None = None) -> None:
        self.allow_private = allow_private
        self.resolver = resolver
        self.inner = inner or httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        ip = resolve_checked(host, port, allow_private=self.allow_private, resolver=self.resolver)
        return self.inner.connect_tcp(str(ip), port, timeout=timeout, local_address=local_address,
                                      socket_options=socket_options)

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        raise AddressRefused("unix sockets are not a destination")

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)


class GuardedTransport(httpx.HTTPTransport):
    """An ``httpx.HTTPTransport`` whose connections go through :class:`GuardedBackend`.

    Environment proxies are ignored (a proxy would connect on our behalf, unchecked).
    """

    def __init__(self, *, allow_private: bool = False, resolver: Resolver | None = None,
                 verify: Any = True, limits: httpx.Limits = httpx.Limits(max_connections=100,
                                                                         max_keepalive_connections=20)) -> None:
        super().__init__(verify=verify, trust_env=False, limits=limits)
        # the same pool httpx builds, with our backend: every TCP connection is resolved and checked by it
        self._pool = httpcore.ConnectionPool(
            ssl_context=verify if isinstance(verify, ssl.SSLContext) else httpx.create_ssl_context(
                verify=verify, trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(allow_private=allow_private, resolver=resolver),
        )


def guarded_client(*, allow_private: bool = False, resolver: Resolver | None = None, verify: Any = True,
                   **kwargs: Any) -> httpx.Client:
    """An ``httpx.Client`` that connects only to public addresses (unless ``allow_private``), pinned.

    Redirects are not followed unless ``follow_redirects=True`` is passed; each hop is then
    a new connection and checked again.
    """
    kwargs.setdefault("follow_redirects", False)
    return httpx.Client(transport=GuardedTransport(allow_private=allow_private, resolver=resolver, verify=verify),
                        trust_env=False, **kwargs)


def safe_url(url: str) -> str:
    """``url`` without credentials: no ``user:password@``, no query, no fragment (for logs and errors)."""
    try:
        parts = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        return "<unparseable URL>"
    host = parts.host
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"
