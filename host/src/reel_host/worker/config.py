"""A pool's TOML file: ``reel worker --config pool.toml``.

```toml
pool = "image"                       # the pool name workers advertise
plugins = ["image==0.3.*", "audio"]  # pins (PEP 440); or one string "image==0.3.*,audio"
gpus = [0]                           # NVML indices this worker uses; omit for all
concurrency = 1                      # tasks at once (pool children)
preload = false                      # load default models before taking tasks
cpu_fallback = false                 # run generators too big for these GPUs on the CPU
loglevel = "INFO"
exclude = ["video.remote"]           # generators of the pinned plugins not to take

[time_limits]                        # seconds, per generator (beats the generator's own)
"image.diffusers" = 1800

[settings]                           # any REEL_* setting, by its lower-case name
heartbeat_s = 5
```
Command-line options beat the file; the file beats ``REEL_*`` environment variables.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


class PoolConfigError(ValueError):
    """The pool file cannot be read or says something Reel does not understand."""


class PoolConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pool: str | None = Field(default=None, min_length=1, max_length=100)
    plugins: str | None = None
    gpus: list[int] | None = None
    concurrency: int | None = Field(default=None, ge=1, le=256)
    preload: bool | None = None
    cpu_fallback: bool = False
    loglevel: str | None = None
    exclude: list[str] = Field(default_factory=list)
    time_limits: dict[str, float] = Field(default_factory=dict)
    settings: dict[str, Any] = Field(default_factory=dict)

    @field_validator("plugins", mode="before")
    @classmethod
    def _join_pins(cls, value: Any) -> Any:
        return ",".join(value) if isinstance(value, list) else value

    @field_validator("gpus", mode="before")
    @classmethod
    def _split_gpus(cls, value: Any) -> Any:
        if isinstance(value, int):
            return [value]
        return parse_gpus(value) if isinstance(value, str) else value

    @field_validator("time_limits")
    @classmethod
    def _positive(cls, value: dict[str, float]) -> dict[str, float]:
        bad = {k: v for k, v in value.items() if v <= 0}
        if bad:
            raise ValueError(f"time limits must be > 0 seconds, got {bad}")
        return value


def parse_gpus(text: str) -> list[int]:
    """``"0,1"`` -> [0, 1]."""
    try:
        return [int(i) for i in text.split(",") if i.strip()]
    except ValueError:
        raise PoolConfigError(f"GPUs must be NVML indices like '0' or '0,1', got {text!r}") from None


def load_pool_config(path: Path) -> PoolConfig:
    """Read and check a pool file.

    Raises:
        PoolConfigError: the file is missing, not TOML, or has unknown or bad keys.
    """
    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise PoolConfigError(f"cannot read pool file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise PoolConfigError(f"pool file {path} is not valid TOML: {exc}") from None
    try:
        return PoolConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'file'}: {e['msg']}" for e in exc.errors())
        raise PoolConfigError(f"pool file {path}: {problems}") from None
