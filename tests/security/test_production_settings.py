"""REEL_ENV=production refuses to start with empty, short or placeholder secrets."""

from __future__ import annotations

import secrets

import pytest
from pydantic import ValidationError
from reel_host.sealing import new_key
from reel_host.settings import Settings

GOOD = {
    "env": "production",
    "database_url": "postgresql+psycopg://reel@db/reel",
    "secret_key": secrets.token_urlsafe(32),
    "admin_key": secrets.token_urlsafe(32),
    "sealing_keys": new_key(),
}


def test_production__accepts_strong_secrets():
    Settings(**GOOD)


@pytest.mark.parametrize("field,value,why", [
    ("admin_key", None, "needs REEL_ADMIN_KEY"),
    ("secret_key", "", "needs REEL_SECRET_KEY"),
    ("sealing_keys", None, "needs REEL_SEALING_KEYS"),
    ("admin_key", "short-key-123", "shorter than 32"),
    ("secret_key", "change-me-change-me-change-me-change-me", "placeholder"),
    ("admin_key", "a" * 40, "placeholder"),
    ("sealing_keys", "A" * 43 + "=", "placeholder"),
    ("sealing_keys", "not-a-fernet-key", "32 url-safe base64"),
])
def test_production__refuses_weak_secrets(field, value, why):
    with pytest.raises(ValidationError, match=why):
        Settings(**{**GOOD, field: value})


def test_development__keeps_working_without_secrets(tmp_path):
    s = Settings(home=tmp_path)
    assert len(s.resolved_sealing_keys()) == 1 and s.resolved_sealing_keys() == s.resolved_sealing_keys()
