"""What a generator needs from the worker that runs it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Requirements:
    """Hardware needs and limits of a generator, used to route its tasks.

    Args:
        gpu: True if the generator cannot run without a GPU.
        min_vram_gb: GPU memory needed by the default model, in GB (0 = any).
        time_limit_s: the longest a task may run, in seconds (None = host default).
    """

    gpu: bool = False
    min_vram_gb: float = 0
    time_limit_s: float | None = None

    def __post_init__(self) -> None:
        if self.min_vram_gb < 0:
            raise ValueError(f"min_vram_gb must be >= 0, got {self.min_vram_gb}")
        if self.time_limit_s is not None and self.time_limit_s <= 0:
            raise ValueError(f"time_limit_s must be > 0, got {self.time_limit_s}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
