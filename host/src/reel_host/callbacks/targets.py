"""Where a callback may go: the SSRF guard and the checks a submit makes."""

from __future__ import annotations

import ipaddress
import socket
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from reel_host.errors import InvalidRequest
from reel_host.paths import API_PREFIX

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from reel_host.schemas.tasks import TaskCreate
    from reel_host.settings import Settings


class DestinationRefused(ValueError):
    """A callback URL that points where Reel must not send (loopback, private, link-local...)."""


def destination_of(url: str) -> str:
    """``scheme://host:port``: the key of a destination's circuit breaker."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"


def _refused_reason(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for attr in (
        "is_loopback",
        "is_link_local",
        "is_private",
        "is_multicast",
        "is_reserved",
        "is_unspecified",
    ):
        if getattr(ip, attr):
            return attr.removeprefix("is_").replace("_", "-")
    if not ip.is_global:
        return "non-global"
    return None


def check_destination(url: str, allow_private: bool) -> None:
    """Raise DestinationRefused unless every address ``url``'s host resolves to is public.

    Raises ``socket.gaierror`` when the host does not resolve (a caller may retry that).
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DestinationRefused(f"callback URL {url!r} must be http(s)://host/...")
    if allow_private:
        return
    try:
        addresses = {ipaddress.ip_address(parts.hostname)}
    except ValueError:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
        addresses = {ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos}
    for ip in sorted(addresses, key=str):
        reason = _refused_reason(ip)
        if reason:
            raise DestinationRefused(
                f"callback URL {url!r} resolves to {ip}, a {reason} address; "
                "set REEL_CALLBACK_ALLOW_PRIVATE=true to allow private destinations"
            )


def check_submit(session: Session, settings: Settings, project: str, body: TaskCreate) -> None:
    """Refuse a submit whose callback URL is not allowed, or whose CMS target has no Payload settings."""
    from reel_host.records.models import CallbackSettings

    if body.callback is not None:
        url = str(body.callback.url)
        try:
            check_destination(url, settings.callback_allow_private)
        except DestinationRefused as exc:
            raise InvalidRequest(
                str(exc),
                code="callback_url_refused",
                details=[{"field": "callback.url", "message": str(exc), "value": url}],
            ) from None
        except OSError as exc:
            raise InvalidRequest(
                f"callback URL {url!r} does not resolve: {exc}",
                code="callback_url_refused",
                details=[{"field": "callback.url", "message": "does not resolve", "value": url}],
            ) from None
    if body.cms is not None:
        cfg = session.get(CallbackSettings, project)
        if cfg is None or not cfg.payload_url:
            raise InvalidRequest(
                f"project {project!r} has no PayloadCMS settings, so 'cms' cannot be used; "
                f"an admin sets them with PUT {API_PREFIX}/admin/projects/{project}/callbacks/payload",
                code="cms_not_configured",
                details=[{"field": "cms", "message": "project has no Payload settings"}],
            )
