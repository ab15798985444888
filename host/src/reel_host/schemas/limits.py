"""Per-project limits: the body of ``PUT /admin/projects/{project_id}/limits`` and its answer."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class ProjectLimitsUpdate(BaseModel):
    """Every limit at once (PUT replaces them); null or absent means no limit."""

    model_config = ConfigDict(extra="forbid")

    submissions_per_minute: int | None = Field(
        default=None, ge=1, le=1_000_000,
        description="token bucket: this many submits per minute, and bursts up to as many")
    max_queued: int | None = Field(default=None, ge=0, description="queued tasks at once; over it submit is refused")
    max_running: int | None = Field(
        default=None, ge=1, description="running tasks at once; more wait in the queue (with dispatch from records)")
    storage_bytes: int | None = Field(
        default=None, ge=0, description="bytes of stored outputs; at or over it submit is refused")
    retention_days: int | None = Field(
        default=None, ge=1, le=36500, description="outputs (records and files) older than this are deleted")


class ProjectLimitsPublic(ProjectLimitsUpdate):
    project: str
    updated_at: datetime | None = None
    usage: dict[str, int] = Field(default_factory=dict, description="queued, running and storage_bytes now")
