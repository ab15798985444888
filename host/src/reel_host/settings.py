"""All of Reel's configuration: one pydantic-settings class read from ``REEL_*``."""

from __future__ import annotations

import base64
import os
import secrets
import time
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import ByteSize, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIN_SECRET_CHARS = 32
# words of five letters or more only: a random 43-character key holds one by chance about once in 10^6
_PLACEHOLDER_WORDS = ("change", "replace", "example", "placeholder", "secret", "password", "admin", "default",
                      "fixme", "insecure")


def weak_secret(value: str | None, min_chars: int) -> str | None:
    """Why ``value`` is not a production secret (empty, short, a placeholder), or None."""
    if not value:
        return "is empty"
    if len(value) < min_chars:
        return f"is shorter than {min_chars} characters"
    lowered = value.lower()
    if len(set(value)) < 10 or any(word in lowered for word in _PLACEHOLDER_WORDS):
        return "looks like a placeholder"
    return None


class Settings(BaseSettings):
    """Reel settings; every field is the environment variable ``REEL_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="REEL_", extra="ignore")

    env: Literal["development", "production"] = Field(
        default="development", description="production refuses unsafe defaults (no secret key, no admin key)"
    )
    home: Path = Field(default=Path(".reel"), description="data directory of the embedded mode")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default SQLite in REEL_HOME")
    broker_url: str | None = Field(default=None, description="Celery broker (redis://...); default embedded")
    broker_prefix: str | None = Field(default=None, description="key prefix of Reel's keys in a shared Redis")
    storage_url: str | None = Field(
        default=None, description="file:///dir or s3://bucket/prefix; default REEL_HOME/storage")
    public_url: str = Field(default="http://127.0.0.1:8000", description="base URL clients reach the API at")
    secret_key: str | None = Field(default=None, description="signs file URLs and SSE tokens; shared by API processes")
    admin_key: str | None = Field(default=None, description="bearer credential of admin endpoints")
    sealing_keys: str | None = Field(
        default=None, description="comma-separated Fernet keys sealing stored secrets: the first seals, all open")

    max_body_bytes: int = 1024 * 1024
    api_max_concurrency: int = Field(
        default=64, ge=1, description="requests in flight per API process; more are answered 503 + Retry-After")
    api_threads: int = Field(default=40, ge=1, description="worker threads of one API process")
    db_pool_size: int = Field(default=10, ge=1, description="database connections a process keeps open")
    db_max_overflow: int = Field(default=20, ge=0, description="extra connections a process may open under load")
    db_pool_timeout_s: float = Field(
        default=5.0, gt=0, description="wait for a free connection before answering 503 (API) or retrying")

    # -- API keys, the throttle, CORS; see docs/security.md
    key_cache_s: float = Field(default=10.0, description="how long an API process trusts a key it looked up")
    key_revocation_poll_s: float = Field(
        default=1.0, description="how often an API process looks for revoked keys (revocation takes effect within)")
    key_last_use_every_s: float = Field(
        default=60.0, description="a key's last use is written at most this often per API process")
    auth_fail_rate_per_s: float = Field(
        default=1.0, gt=0, description="failed credential checks a client address earns back per second")
    auth_fail_burst: int = Field(
        default=20, ge=1, description="failed credential checks a client address may make at once")
    cors_origins: str = Field(
        default="", description="comma-separated origins browsers may call the API from (e.g. the Payload admin); "
                                "empty: same origin only; '*' any")
    signed_url_ttl_s: int = 3600
    sse_token_ttl_s: int = 600
    idempotency_ttl_s: int = 24 * 3600
    events_poll_s: float = Field(
        default=5.0, description="an SSE stream looks again this often even without a push (a lost notification)")
    embedded_poll_s: float = Field(
        default=0.01, gt=0, le=1.0,
        description="embedded mode: how often workers look for messages and waiting requests for changes "
                    "(the filesystem broker and SQLite have no notifications)")
    max_batch: int = Field(default=500, ge=1, le=1000, description="most tasks one submit_batch request may hold")
    max_wait_s: float = Field(default=60.0, ge=0, description="longest `Prefer: wait=N` honoured on submit and status")

    transient_retries: int = Field(default=3, description="automatic retries of a transient failure")
    retry_backoff_s: float = 10.0
    retry_backoff_max_s: float = 600.0
    worker_lost_max: int = Field(default=3, description="re-runs of a task whose worker died, before it fails")
    api_reconciler: bool = Field(default=True, description="API processes run the reconciler too")
    dispatch_poll_s: float = Field(default=1.0, gt=0, description="how often the reconciler sends due tasks")
    reconcile_s: float = Field(
        default=5.0, gt=0, description="how often lost workers and messages lost by the broker are looked for")
    redispatch_after_s: float = Field(
        default=30.0, ge=0, description="a queued task's message missing from the broker this long is sent again")
    record_retry_s: float = Field(
        default=300.0, ge=0,
        description="how long a worker retries recording a run's outcome while the database is away")
    heartbeat_s: float = 10.0
    worker_lost_after_s: float = 30.0
    cancel_grace_s: float = Field(
        default=30.0, description="how long a run may ignore a cancellation or its soft time limit before it is killed")
    default_time_limit_s: float = Field(default=300 * 60, description="time limit of a generator that sets none")
    time_limits: dict[str, float] = Field(
        default_factory=dict, description='per-generator time limits in seconds, JSON: {"image.diffusers": 600}')
    visibility_timeout_s: float | None = Field(
        default=None, description="broker visibility timeout; default: longer than the longest time limit known here")
    refuse_without_worker: bool = Field(default=False, description="refuse submits no live worker can take")

    batch_sizes: dict[str, int] = Field(
        default_factory=dict,
        description='dynamic batching, tasks per batch by generator, JSON: {"image.diffusers": 4}')
    batch_wait_s: float = Field(
        default=0.05, ge=0, description="how long a worker gathers a batch after its first task")
    model_cache_size: int = Field(
        default=2, ge=0, description="loaded models a worker process keeps per device (LRU); 0: no count bound")
    model_cache_bytes: ByteSize | None = Field(
        default=None, description="memory budget of a process's model cache per device, e.g. '12GiB'; "
        "default 80% of its GPU's memory (none on the CPU)")
    worker_plugins: str | None = Field(default=None, description="pins like 'image==0.3.*,audio'; default all")
    worker_pool: str = Field(default="default", description="the pool name a worker advertises")
    worker_concurrency: int = 1
    task_events: bool = Field(
        default=True, description="Celery task events for Flower / `celery events` (distributed mode; `--no-events`)")
    load_plugins: str | None = Field(default=None, description="comma-separated plugin names to load (others skipped)")
    block_plugins: str | None = Field(default=None, description="comma-separated plugin names never loaded")
    trace_plugins: bool = Field(default=False, description="log every hook call")

    # -- operations: metrics, logs, limits; see docs/operations.md
    log_format: Literal["console", "json"] = Field(
        default="console", description="console (readable) or json (one JSON object a line) for every process")
    log_level: str = Field(default="INFO", description="level of the API's and the sender's logs")
    metrics_token: str | None = Field(
        default=None, description="bearer token Prometheus sends to GET /metrics; unset: loopback clients only")
    worker_metrics_port: int | None = Field(
        default=None, ge=1, le=65535, description="reel worker's Prometheus port (--metrics-port, pool file win)")
    callbacks_metrics_port: int | None = Field(
        default=None, ge=1, le=65535, description="reel callbacks' Prometheus port (--metrics-port wins)")
    metrics_addr: str = Field(
        default="0.0.0.0", description="address the --metrics-port endpoints of workers and senders listen on")
    retention_days: int | None = Field(
        default=None, ge=1, description="delete finished tasks (records and files) after this; a project's own wins")
    retention_sweep_s: float = Field(default=3600.0, ge=0, description="how often API processes apply retention")
    limit_retry_after_s: int = Field(
        default=10, ge=1, description="Retry-After of a refusal by the max-queued limit")

    # -- `reel up`, the embedded mode's supervisor; see docs/operations.md
    up_stop_grace_s: float = Field(
        default=30.0, description="how long `reel up` lets its processes stop before it kills them")
    up_restart_backoff_s: float = Field(default=1.0, description="first wait before `reel up` restarts a dead process")
    up_restart_backoff_max_s: float = Field(
        default=60.0, description="longest wait between restarts of a process that keeps dying")

    # -- S3-compatible storage (REEL_STORAGE_URL=s3://bucket/prefix); see docs/storage.md
    storage_endpoint_url: str | None = Field(default=None, description="S3 endpoint (R2, MinIO); default AWS")
    storage_region: str | None = Field(default=None, description="bucket region ('auto' for R2)")
    storage_access_key: str | None = Field(default=None, description="access key id; default: boto3's chain")
    storage_secret_key: str | None = Field(default=None, description="secret access key")
    storage_addressing_style: Literal["auto", "virtual", "path"] = "auto"
    storage_public_url: str | None = Field(default=None, description="public base URL of the bucket (durable URLs)")
    storage_max_output_bytes: int = Field(default=5 * 1024**3, description="largest output file stored")
    storage_media_types: str = Field(default="*", description="allowed output media types, e.g. 'image/*,video/mp4'")
    storage_multipart_threshold_bytes: int = Field(default=64 * 1024**2, description="multipart upload from here")
    storage_multipart_chunk_bytes: int = Field(default=16 * 1024**2, description="part size of multipart uploads")

    # -- callbacks and the CMS bridge; see docs/callbacks.md
    callback_schedule_s: str = Field(
        default="5,300,1800,7200,18000,36000,50400,72000,86400",
        description="delays between delivery attempts (Standard Webhooks schedule, about 3 days)",
    )
    callback_jitter: float = Field(default=0.1, ge=0, le=1, description="each delay is scaled by 1 ± this, at random")
    callback_timeout_s: float = Field(default=10.0, description="one delivery attempt's HTTP timeout")
    callback_allow_private: bool = Field(default=False, description="allow loopback/private/link-local callback URLs")
    payload_allow_private: bool = Field(
        default=True, description="allow a PayloadCMS base URL (set by the admin) on a private address, "
                                  "e.g. Payload beside Reel in one network; connections are pinned either way")
    callback_progress_interval_s: float = Field(default=0.5, description="at most one progress callback this often")
    callback_breaker_threshold: int = Field(default=5, description="consecutive failures that open a breaker")
    callback_breaker_cooldown_s: float = Field(default=60.0, description="an open breaker's wait before a probe")
    callback_sweep_s: float = Field(default=1.0, description="how often the sender looks for due deliveries")
    callback_lease_s: float = Field(default=60.0, description="a claimed delivery is sent again after this")
    callback_concurrency: int = Field(default=8, description="threads of `reel callbacks`")
    callback_secret_grace_s: float = Field(default=24 * 3600, description="a rotated-out secret signs this long")

    # -- console accounts; see docs/console.md
    signup: Literal["open", "invite"] | None = Field(
        default=None, description="who may create an account: open, or invite (links only); default: open in "
        "embedded mode, invite otherwise")
    session_ttl_s: int = Field(default=14 * 24 * 3600, description="a console login lasts this long")
    cookie_secure: bool | None = Field(
        default=None, description="mark the session cookie Secure; default: yes outside embedded mode")
    invitation_ttl_s: int = Field(default=7 * 24 * 3600, description="an invitation link works this long")
    reset_ttl_s: int = Field(default=24 * 3600, description="a password reset or setup link works this long")
    login_burst: int = Field(default=5, description="login attempts one account may take at once")
    login_rate_per_s: float = Field(default=1 / 12, description="login attempts per second an account regains")
    login_address_burst: int = Field(default=30, description="login attempts one client address may take at once")
    login_address_rate_per_s: float = Field(default=0.5, description="login attempts per second an address regains")
    password_min_length: int = Field(default=10, description="shortest password accepted")

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.sealing_keys:
            from reel_host.sealing import check_key

            for key in self.sealing_keys.split(","):
                if key.strip():
                    check_key(key.strip())
        if self.env == "production":
            missing = [n for n in ("secret_key", "admin_key", "database_url", "sealing_keys") if not getattr(self, n)]
            if missing:
                raise ValueError(f"REEL_ENV=production needs {', '.join('REEL_' + m.upper() for m in missing)}")
            problems = [f"REEL_{name.upper()} {why}" for name in ("secret_key", "admin_key")
                        if (why := weak_secret(getattr(self, name), MIN_SECRET_CHARS))]
            keys = [k.strip() for k in (self.sealing_keys or "").split(",") if k.strip()]
            problems += [f"REEL_SEALING_KEYS key {i + 1} looks like a placeholder (too few distinct bytes)"
                         for i, k in enumerate(keys) if len(set(base64.urlsafe_b64decode(k))) < 16]
            if self.secret_key and self.secret_key in keys:
                problems.append("REEL_SEALING_KEYS must differ from REEL_SECRET_KEY")
            if problems:
                raise ValueError("REEL_ENV=production refuses unsafe secrets: " + "; ".join(problems)
                                 + " (make one with: python -c 'import secrets; print(secrets.token_urlsafe(32))', "
                                 "a sealing key with `reel secrets new-key`)")
        return self

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.home / 'reel.db').resolve()}"

    @property
    def embedded_broker(self) -> bool:
        return not self.broker_url

    @property
    def embedded(self) -> bool:
        """Embedded mode (``reel up``): no broker URL, one machine, the first visitor may become admin."""
        return not self.broker_url

    @property
    def resolved_signup(self) -> str:
        return self.signup or ("open" if self.embedded else "invite")

    @property
    def resolved_cookie_secure(self) -> bool:
        return self.cookie_secure if self.cookie_secure is not None else not self.embedded

    @property
    def resolved_storage_url(self) -> str:
        return self.storage_url or (self.home / "storage").resolve().as_uri()

    @property
    def callback_schedule(self) -> list[float]:
        """The retry delays in seconds (``REEL_CALLBACK_SCHEDULE_S``)."""
        return [float(x) for x in self.callback_schedule_s.split(",") if x.strip()]

    def resolved_sealing_keys(self) -> list[str]:
        """The sealing keys; in development one is made once and kept in REEL_HOME."""
        if self.sealing_keys:
            return [k.strip() for k in self.sealing_keys.split(",") if k.strip()]
        path = self.home / "sealing.key"
        if not path.exists():
            from reel_host.sealing import new_key

            self.home.mkdir(parents=True, exist_ok=True)
            try:  # exclusive create: processes starting together agree on one key
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as f:
                    f.write(new_key())
            except FileExistsError:
                pass
        for _ in range(100):  # another process may be writing it right now
            key = path.read_text().strip()
            if key:
                return [key]
            time.sleep(0.01)
        raise RuntimeError(f"{path} is empty; delete it or set REEL_SEALING_KEYS")

    def resolved_secret_key(self) -> str:
        """The signing secret; in development one is made once and kept in REEL_HOME."""
        if self.secret_key:
            return self.secret_key
        path = self.home / "secret.key"
        if not path.exists():
            self.home.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(32))
            path.chmod(0o600)
        return path.read_text().strip()


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (tests build their own Settings instead)."""
    return Settings()
