"""The error envelope every 4xx and 5xx answer carries (``reel_host.api.errors`` builds it)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ErrorBody(BaseModel):
    code: str = Field(description="stable, machine-readable: not_found, invalid_params, auth_throttled...")
    message: str = Field(description="for people; names the offending field and repeats a bounded excerpt")
    details: list[dict[str, Any]] = Field(description="per-field problems: {field, message, value?}")


class ErrorEnvelope(BaseModel):
    error: ErrorBody
