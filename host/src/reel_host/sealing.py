"""Secrets at rest: webhook signing secrets and Payload API keys are stored sealed.

``REEL_SEALING_KEYS`` is a comma-separated list of Fernet keys (cryptography's MultiFernet):
the first seals, every one opens, so an operator rotates by putting a new key first, running
``reel secrets rotate`` (re-seals every stored secret with it), then dropping the old key.
These keys are separate from ``REEL_SECRET_KEY`` (which signs file URLs and SSE tokens): a
leak of one does not open the other.

Sealed values carry the prefix ``sealed:``; a value without it was stored before sealing
existed and is read as is until ``reel secrets rotate`` seals it.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

PREFIX = "sealed:"


class SealingError(Exception):
    """A sealed value none of the configured keys opens (wrong or missing REEL_SEALING_KEYS)."""


def new_key() -> str:
    """A fresh sealing key (what to put in REEL_SEALING_KEYS)."""
    return Fernet.generate_key().decode()


def check_key(key: str) -> str:
    """``key`` if it is a valid Fernet key (32 url-safe base64 bytes), else ValueError."""
    try:
        Fernet(key.encode())
    except (ValueError, TypeError) as exc:
        raise ValueError("a sealing key must be 32 url-safe base64-encoded bytes (`reel secrets new-key`)") from exc
    return key


class Sealer:
    """Seals and opens short secrets with the first / any of ``keys``."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("at least one sealing key is needed")
        self._fernet = MultiFernet([Fernet(check_key(k).encode()) for k in keys])

    def seal(self, plain: str) -> str:
        return PREFIX + self._fernet.encrypt(plain.encode()).decode()

    def open(self, stored: str | None) -> str | None:
        """The secret in ``stored`` (None stays None; unsealed legacy values pass through)."""
        if stored is None or not stored.startswith(PREFIX):
            return stored
        try:
            return self._fernet.decrypt(stored.removeprefix(PREFIX).encode()).decode()
        except InvalidToken:
            raise SealingError("a stored secret is sealed with a key that is not in REEL_SEALING_KEYS") from None

    def reseal(self, stored: str | None) -> str | None:
        """``stored`` sealed with the first key (a legacy plain value gets sealed)."""
        if stored is None:
            return None
        if not stored.startswith(PREFIX):
            return self.seal(stored)
        try:
            return PREFIX + self._fernet.rotate(stored.removeprefix(PREFIX).encode()).decode()
        except InvalidToken:
            raise SealingError("a stored secret is sealed with a key that is not in REEL_SEALING_KEYS") from None
