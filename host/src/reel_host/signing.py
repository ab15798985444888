"""Signed, expiring tokens: file download URLs and SSE query tokens (itsdangerous)."""

from __future__ import annotations

import time
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer


class Signer:
    """Signs small payloads with an expiry of their own (not the server's clock at read)."""

    def __init__(self, secret: str) -> None:
        self._files = URLSafeSerializer(secret, salt="reel.file")
        self._events = URLSafeSerializer(secret, salt="reel.events")

    def sign_file(self, key: str, media_type: str, filename: str, ttl_s: int) -> str:
        return self._files.dumps({"k": key, "t": media_type, "n": filename, "e": int(time.time() + ttl_s)})

    def read_file(self, token: str) -> dict[str, Any] | None:
        """The file payload, or None if the token is forged or expired."""
        return self._load(self._files, token)

    def sign_events(self, task_id: str, project: str, ttl_s: int) -> tuple[str, int]:
        expires = int(time.time() + ttl_s)
        return self._events.dumps({"task": task_id, "p": project, "e": expires}), expires

    def read_events(self, token: str) -> dict[str, Any] | None:
        return self._load(self._events, token)

    @staticmethod
    def _load(serializer: URLSafeSerializer, token: str) -> dict[str, Any] | None:
        try:
            payload = serializer.loads(token)
        except BadSignature:
            return None
        if not isinstance(payload, dict) or payload.get("e", 0) < time.time():
            return None
        return payload
