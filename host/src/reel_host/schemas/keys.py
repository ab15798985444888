"""Shapes of API keys as listings show them (never the key itself, only its prefix)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class KeyPublic(BaseModel):
    id: str
    project: str
    prefix: str = Field(description="the key's first characters")
    name: str | None
    created_at: datetime
    last_used_at: datetime | None = Field(description="last use, to within about a minute")
    expires_at: datetime | None
    revoked_at: datetime | None


class KeysPublic(BaseModel):
    data: list[KeyPublic]
