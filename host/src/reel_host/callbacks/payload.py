"""PayloadCMS mode: the field mapping written onto a document, and uploads into a media collection.

The document gets (default field names; a project may rename or drop each one):

    reelTaskId    text     the task id
    reelStatus    text     queued | running | succeeded | failed | cancelled
    reelProgress  number   0..1
    reelMessage   text     the task's last message
    reelError     text     "<code>: <message>" or null
    reelOutputs   json     [{name, url, mediaType, bytes}] (durable URLs where there are any)
    reelMedia     relationship (hasMany) to the upload collection, when outputs are uploaded
"""

from __future__ import annotations

import json
from typing import Any

import httpx

DEFAULT_FIELDS: dict[str, str] = {
    "task_id": "reelTaskId",
    "status": "reelStatus",
    "progress": "reelProgress",
    "message": "reelMessage",
    "error": "reelError",
    "outputs": "reelOutputs",
    "media": "reelMedia",
}


def field_names(overrides: dict[str, Any] | None) -> dict[str, str | None]:
    """The project's field names: defaults, renamed or dropped (``None``) by its overrides."""
    names: dict[str, str | None] = dict(DEFAULT_FIELDS)
    names.update(overrides or {})
    return names


def auth_header(slug: str, api_key: str) -> dict[str, str]:
    """Payload's API-key header for an auth collection with ``useAPIKey``."""
    return {"Authorization": f"{slug} API-Key {api_key}"}


def document_body(
    data: dict[str, Any],
    outputs: list[dict[str, Any]],
    media_ids: list[Any] | None,
    overrides: dict[str, Any] | None,
) -> dict[str, Any]:
    """The PATCH body for a task snapshot ``data`` (the status endpoint's task)."""
    error = data.get("error")
    values: dict[str, Any] = {
        "task_id": data["id"],
        "status": data["status"],
        "progress": data["progress"],
        "message": data.get("message"),
        "error": f"{error['code']}: {error['message']}" if error else None,
        "outputs": [
            {"name": o["name"], "url": o["url"], "mediaType": o["media_type"], "bytes": o["bytes"]}
            for o in outputs
        ],
    }
    if media_ids is not None:
        values["media"] = media_ids
    names = field_names(overrides)
    return {name: v for k, v in values.items() if (name := names.get(k))}


def upload(
    client: httpx.Client,
    base_url: str,
    collection: str,
    headers: dict[str, str],
    name: str,
    media_type: str,
    content: bytes,
    alt: str,
) -> dict[str, Any]:
    """Create a document in Payload's upload collection; return ``{"id", "url"}``."""
    r = client.post(
        f"{base_url.rstrip('/')}/api/{collection}",
        headers=headers,
        files={"file": (name, content, media_type)},
        data={"_payload": json.dumps({"alt": alt})},
    )
    r.raise_for_status()
    doc = r.json().get("doc", {})
    url = doc.get("url")
    if isinstance(url, str) and url.startswith("/"):
        url = base_url.rstrip("/") + url
    return {"id": doc.get("id"), "url": url}
