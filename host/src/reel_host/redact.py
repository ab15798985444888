"""No credential reaches a log line, in any Reel process.

Two layers, installed by every process when it builds its ``Runtime``:

1. httpx and httpcore log each request's full URL at INFO (``user:password@`` and
   ``?token=`` of a callback URL included): their loggers are raised to WARNING.
2. A log record factory rewrites every record's message (and traceback) before any
   handler sees it, whichever library logged it and however logging was configured
   (Celery and uvicorn configure their own handlers): URL userinfo, credential-like query
   values, ``Authorization``-style tokens, Reel API keys (``reel_...``), webhook secrets
   (``whsec_...``), sealed values, and the exact secrets of this process's settings
   (admin key, secret key, sealing keys, storage keys) become ``***``.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from typing import Any

MASK = "***"
_QUIET = ("httpx", "httpcore", "hpack", "urllib3", "botocore", "boto3", "s3transfer")
_PATTERNS = [
    # scheme://user:password@host -> scheme://***@host
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s:@]*(?::[^/\s@]*)?@"), rf"\1{MASK}@"),
    # ?token=...&sig=... (credential-like query and form parameters)
    (re.compile(r"(?i)([?&;](?:[a-z0-9_.-]*(?:token|key|secret|sig|signature|password|passwd|pwd|auth|credential|"
                r"session|code)[a-z0-9_.-]*)=)[^&#\s'\"]+"), rf"\1{MASK}"),
    # Authorization: Bearer xxx / Basic xxx / users API-Key xxx
    (re.compile(r"(?i)\b(bearer|basic|api-key)\s+[A-Za-z0-9._~+/=-]{6,}"), rf"\1 {MASK}"),
    (re.compile(r"\breel_[A-Za-z0-9_-]{16,}"), f"reel_{MASK}"),
    (re.compile(r"\bwhsec_[A-Za-z0-9+/=]{16,}"), f"whsec_{MASK}"),
    (re.compile(r"\bsealed:[A-Za-z0-9_=-]{16,}"), f"sealed:{MASK}"),
]
_lock = threading.Lock()
_secrets: set[str] = set()
_installed = False


def redact(text: str) -> str:
    """``text`` with every credential replaced by ``***``."""
    if not text:
        return text
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def add_secrets(values: Iterable[str | None]) -> None:
    """Remember exact secrets to mask (8 characters or more: shorter ones would mask ordinary words)."""
    with _lock:
        _secrets.update(v for v in values if v and len(v) >= 8)


def install(secrets: Iterable[str | None] = ()) -> None:
    """Quiet the URL-logging libraries and redact every log record of this process (idempotent)."""
    global _installed
    add_secrets(secrets)
    for name in _QUIET:
        logger = logging.getLogger(name)
        if logger.level < logging.WARNING:
            logger.setLevel(logging.WARNING)
    with _lock:
        if _installed:
            return
        _installed = True
        previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a malformed call: leave it to logging's own error report
            return record
        cleaned = redact(message)
        if cleaned != message:
            _clean_record(record, cleaned)
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return record

    logging.setLogRecordFactory(factory)


def _clean_record(record: logging.LogRecord, cleaned: str) -> None:
    """Redact the arguments one by one where that suffices (formatters such as uvicorn's access
    log read ``record.args``), else replace the message with its redacted text."""
    if isinstance(record.args, tuple) and record.args:
        msg, args = record.msg, record.args
        record.msg = redact(str(record.msg))
        record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        try:
            again = record.getMessage()
            if redact(again) == again:
                return
        except Exception:
            pass
        record.msg, record.args = msg, args
    record.msg, record.args = cleaned, ()
