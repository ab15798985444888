"""Request and response models of the callback and Payload endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, SecretStr

FieldKey = Literal["task_id", "status", "progress", "message", "error", "outputs", "media"]


class CallbackAttemptPublic(BaseModel):
    number: int
    started_at: datetime
    duration_ms: int
    status_code: int | None
    outcome: str = Field(description="delivered | retry | gone | refused")
    error: str | None


class CallbackDeliveryPublic(BaseModel):
    id: str = Field(description="the delivery id, also its `webhook-id` header")
    kind: Literal["webhook", "cms"]
    event: str
    url: str
    status: str = Field(description="pending | delivered | failed | gone | superseded")
    next_attempt_at: datetime | None = Field(description="when it is tried next, while pending")
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    attempts: list[CallbackAttemptPublic]


class CallbackDeliveriesPublic(BaseModel):
    data: list[CallbackDeliveryPublic]


class SigningSecretPublic(BaseModel):
    secret: str = Field(description="whsec_...: verify `webhook-signature` with it")
    previous_valid_until: datetime | None = Field(description="until then the previous secret also signs")
    rotated_at: datetime | None


class SecretRotate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    secret: str | None = Field(None, description="the new whsec_ secret; default: a random one")
    grace_s: float | None = Field(
        None,
        ge=0,
        le=30 * 86400,
        description="how long the old secret still signs; default REEL_CALLBACK_SECRET_GRACE_S",
    )


class PayloadSettingsUpdate(BaseModel):
    """A project's PayloadCMS connection (the API key is write-only)."""

    model_config = ConfigDict(extra="forbid")

    base_url: AnyHttpUrl = Field(description="Payload's server URL, e.g. https://cms.example.com")
    auth_slug: str = Field(
        "users",
        pattern=r"^[A-Za-z0-9_-]{1,200}$",
        description="slug of the auth collection whose API key is used",
    )
    api_key: SecretStr = Field(min_length=1, max_length=1000, description="the API key (never returned)")
    upload_collection: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9_-]{1,200}$",
        description="upload outputs into this collection and link them",
    )
    fields: dict[FieldKey, str | None] = Field(
        default_factory=dict, description="rename (or drop with null) the document fields Reel writes"
    )


class PayloadSettingsPublic(BaseModel):
    base_url: str
    auth_slug: str
    api_key_set: bool = Field(description="whether an API key is stored (it is never returned)")
    upload_collection: str | None
    fields: dict[str, str | None] = Field(description="the field names Reel writes")


class CallbackConfigPublic(BaseModel):
    project: str
    signing: SigningSecretPublic
    payload: PayloadSettingsPublic | None
