"""The log redactor: credentials of every shape become *** before any handler sees them."""

from __future__ import annotations

import logging

import pytest
from reel_host import redact


@pytest.mark.parametrize("line,secret", [
    ("HTTP Request: POST http://alice:hunter2pass@cms.example.com/hook?x=1", "hunter2pass"),
    ("HTTP Request: POST http://cms.example.com/hook?token=tok3n-value&a=b", "tok3n-value"),
    ("GET /files/abc?sig=s1gnature-val&exp=1", "s1gnature-val"),
    ("headers {'Authorization': 'Bearer reel_abcdefghijklmnopqrstuvwxyz'}", "abcdefghijklmnopqrstuvwxyz"),
    ("Authorization: users API-Key payl0adkey-123456", "payl0adkey-123456"),
    ("secret is whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
    ("stored sealed:gAAAAABnOTEsome-fernet-token-here", "gAAAAABnOTEsome-fernet-token-here"),
])
def test_redact__masks_credentials(line, secret):
    assert secret not in redact.redact(line)


def test_install__masks_exact_secrets_in_records_and_tracebacks(caplog):
    redact.install(["my-admin-key-0123456789"])
    log = logging.getLogger("reel.test.redact")
    with caplog.at_level(logging.INFO):
        log.info("admin key %s used", "my-admin-key-0123456789")
        try:
            raise ValueError("boom with http://u:pw12345678@h/x")
        except ValueError:
            log.exception("failed")
    text = caplog.text
    assert "my-admin-key-0123456789" not in text and "pw12345678" not in text
    assert logging.getLogger("httpx").getEffectiveLevel() >= logging.WARNING


def test_install__keeps_args_of_formatters_that_read_them(caplog):
    redact.install()
    access = logging.getLogger("reel.test.access")
    with caplog.at_level(logging.INFO):
        access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1", "GET", "/api/v1/tasks/x/events?token=abcdef123456",
                    "1.1", 200)
    [record] = [r for r in caplog.records if r.name == "reel.test.access"]
    assert len(record.args) == 5 and "abcdef123456" not in record.getMessage()
