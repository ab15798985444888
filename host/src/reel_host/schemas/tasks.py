"""Request and response models of REST API v1; names say their role."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field

TaskStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]
CallbackEvent = Literal["started", "progress", "succeeded", "failed", "cancelled"]


def _default_callback_events() -> list[CallbackEvent]:
    return ["started", "succeeded", "failed", "cancelled"]


class CallbackSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: AnyHttpUrl = Field(description="where to POST signed task events")
    events: list[CallbackEvent] = Field(
        default_factory=_default_callback_events,
        description="which events to send",
    )


class CmsTarget(BaseModel):
    model_config = ConfigDict(extra="forbid")

    collection: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_-]+$")
    id: str | int = Field(description="the document id (opaque: integer or string)")


class TaskCreate(BaseModel):
    """Body of ``POST /tasks/submit``."""

    model_config = ConfigDict(extra="forbid")

    generator: str = Field(min_length=1, max_length=200, description="generator name, e.g. image.diffusers")
    params: dict[str, Any] = Field(default_factory=dict, description="validated by the generator's schema")
    priority: int = Field(5, ge=0, le=9, description="0-9; 9 runs first (Redis broker)")
    project: str | None = Field(
        None, max_length=64,
        description="the project to run in: a key's own (the default), or one of a console user's projects")
    callback: CallbackSpec | None = None
    cms: CmsTarget | None = None


class OutputPublic(BaseModel):
    name: str
    url: str
    media_type: str
    bytes: int
    metadata: dict[str, Any] = {}


class ErrorInfo(BaseModel):
    code: str
    message: str


class TaskPublic(BaseModel):
    """A task as submit, status and listings return it."""

    id: str
    project: str
    generator: str
    status: TaskStatus
    progress: float
    message: str | None
    attempts: int
    priority: int
    queue_position: int | None
    waiting_for_worker: bool
    params: dict[str, Any]
    outputs: list[OutputPublic]
    error: ErrorInfo | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class TasksPublic(BaseModel):
    data: list[TaskPublic]
    next: str | None = Field(None, description="cursor of the next page, or null")


class TaskBatchItem(TaskCreate):
    """One task of ``POST /tasks/submit_batch``, with its own idempotency key."""

    idempotency_key: str | None = Field(None, min_length=1, max_length=255,
                                        description="as the Idempotency-Key header of a single submit")


class TaskBatchCreate(BaseModel):
    """Body of ``POST /tasks/submit_batch``: up to ``REEL_MAX_BATCH`` tasks, recorded and sent together."""

    model_config = ConfigDict(extra="forbid")

    tasks: list[TaskBatchItem] = Field(min_length=1, max_length=1000)


class BatchError(BaseModel):
    code: str
    message: str
    details: list[dict[str, Any]] = []


class TaskBatchResult(BaseModel):
    """One item's answer: its task (queued now, or the one its idempotency key made) or its error."""

    index: int
    task: TaskPublic | None = None
    replayed: bool = False
    error: BatchError | None = None


class TaskBatchPublic(BaseModel):
    data: list[TaskBatchResult]


class TaskLogPublic(BaseModel):
    created_at: datetime
    attempt: int
    level: str
    message: str


class TaskLogsPublic(BaseModel):
    data: list[TaskLogPublic]


class AttemptPublic(BaseModel):
    number: int
    worker: str | None
    status: str
    error: ErrorInfo | None
    started_at: datetime
    finished_at: datetime | None


class EventsToken(BaseModel):
    token: str
    url: str
    expires_at: int


class PluginPublic(BaseModel):
    name: str = Field(description="generator name")
    kind: str
    title: str | None = None
    description: str | None = None
    plugin: str | None = Field(None, description="the plugin (entry point) that provides it")
    distribution: str | None = None
    version: str | None = None
    params_schema: dict[str, Any]
    requirements: dict[str, Any]
    queue: str
    workers: int = Field(description="live workers that carry it")


class PluginsPublic(BaseModel):
    data: list[PluginPublic]
    failed: list[dict[str, Any]] = Field(default_factory=list, description="plugins that failed to load here")


class WorkerPublic(BaseModel):
    id: str
    hostname: str | None = Field(description="shown to the admin key, or when the worker runs the caller's task")
    pool: str
    status: Literal["online", "lost", "stopped"]
    plugins: list[dict[str, Any]]
    generators: list[str]
    skipped: list[dict[str, Any]]
    gpus: list[dict[str, Any]]
    queues: list[str]
    current_task: str | None = Field(description="shown to the admin key, or when it is the caller's project's task")
    started_at: datetime
    last_heartbeat: datetime


class WorkersPublic(BaseModel):
    data: list[WorkerPublic]


class HealthPublic(BaseModel):
    status: Literal["ok", "degraded"]
    checks: dict[str, Literal["ok", "failing"]] = Field(description="database, broker, storage")
    details: dict[str, str] | None = Field(
        default=None, description="why a component fails; only to the admin key (everyone else: the server log)")


class ProjectCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=63, description="lowercase letters, digits, '-' or '_'")


class ProjectPublic(BaseModel):
    id: str
    created_at: datetime


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, max_length=200)
    expires_at: datetime | None = Field(default=None, description="when the key stops working (none: never)")


class KeyCreated(BaseModel):
    id: str
    project: str
    key: str = Field(description="shown once; store it now")
    prefix: str | None = Field(default=None, description="the key's first characters, to recognise it later")
    expires_at: datetime | None = None
