"""Where a callback may go: the SSRF guard and the checks a submit makes."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from reel_sdk.net import AddressRefused, Resolver, check_url, safe_url

from reel_host.errors import InvalidRequest
from reel_host.paths import API_PREFIX

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from reel_host.schemas.tasks import TaskCreate
    from reel_host.settings import Settings


# the guard itself lives in the SDK, so plugins (the remote video provider) use the same one
DestinationRefused = AddressRefused


def destination_of(url: str) -> str:
    """``scheme://host:port``: the key of a destination's circuit breaker."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"


def check_destination(url: str, allow_private: bool, resolver: Resolver | None = None) -> None:
    """Raise DestinationRefused unless every address ``url``'s host resolves to is public.

    An early answer (at submit, before a send); the connection itself checks again and
    connects to the address it checked (``reel_sdk.net.GuardedBackend``), so a name that
    changes its answer in between gains nothing. Raises ``OSError`` when the host does
    not resolve (a caller may retry that).
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DestinationRefused(f"callback URL {safe_url(url)!r} must be http(s)://host/...")
    try:
        check_url(url, allow_private=allow_private, resolver=resolver)
    except AddressRefused as exc:
        raise DestinationRefused(
            f"callback URL {safe_url(url)!r} is refused: {exc}; "
            "set REEL_CALLBACK_ALLOW_PRIVATE=true to allow private destinations"
        ) from None


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
                details=[{"field": "callback.url", "message": str(exc), "value": safe_url(url)}],
            ) from None
        except OSError as exc:
            raise InvalidRequest(
                f"callback URL {safe_url(url)!r} does not resolve: {exc}",
                code="callback_url_refused",
                details=[{"field": "callback.url", "message": "does not resolve", "value": safe_url(url)}],
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
