"""Per-destination circuit breakers, kept in the records so every sender process shares them.

Closed: deliveries go out. After ``REEL_CALLBACK_BREAKER_THRESHOLD`` consecutive
failures it opens for ``REEL_CALLBACK_BREAKER_COOLDOWN_S``: deliveries to that
destination wait, no attempt is spent. Then one sender claims a half-open probe;
its success closes the breaker, its failure opens it again.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from reel_host.records.db import rowcount
from reel_host.records.models import CallbackBreaker, utcnow
from reel_host.settings import Settings


def admit(session: Session, settings: Settings, destination: str) -> datetime | None:
    """None when a delivery may go now; else when to look again."""
    row = session.get(CallbackBreaker, destination)
    now = utcnow()
    if row is None or row.open_until is None:
        return None
    if row.open_until > now:
        return row.open_until
    until = now + timedelta(seconds=settings.callback_breaker_cooldown_s)
    probe = session.execute(
        update(CallbackBreaker)
        .where(
            CallbackBreaker.destination == destination,
            CallbackBreaker.open_until <= now,
        )
        .values(open_until=until, updated_at=now)
    )
    return None if rowcount(probe) else until  # someone else runs the half-open probe


def succeeded(session: Session, destination: str) -> None:
    session.execute(
        update(CallbackBreaker)
        .where(CallbackBreaker.destination == destination)
        .values(failures=0, open_until=None, updated_at=utcnow())
    )


def failed(session: Session, settings: Settings, destination: str) -> bool:
    """Count a failure; return True when it (re)opens the breaker."""
    now = utcnow()
    row = session.get(CallbackBreaker, destination)
    if row is None:
        try:
            with session.begin_nested():
                row = CallbackBreaker(destination=destination, failures=0, updated_at=now)
                session.add(row)
        except IntegrityError:
            row = session.get(CallbackBreaker, destination)
    assert row is not None
    session.execute(
        update(CallbackBreaker)
        .where(CallbackBreaker.destination == destination)
        .values(failures=CallbackBreaker.failures + 1, updated_at=now)
    )
    session.refresh(row)
    if row.failures >= settings.callback_breaker_threshold:
        row.open_until = now + timedelta(seconds=settings.callback_breaker_cooldown_s)
        return True
    return False
