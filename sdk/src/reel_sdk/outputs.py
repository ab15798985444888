"""What a generator returns: files it wrote, with their media type."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Output:
    """One file produced by a generator.

    Args:
        path: where the file lies (normally under ``ctx.workdir``).
        media_type: its IANA media type, such as ``image/png`` or ``video/mp4``.
        name: the file name clients see (defaults to the path's name).
        metadata: JSON-serialisable facts about it (seed, size, fps...).
    """

    path: Path
    media_type: str
    name: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        if self.name is None:
            self.name = self.path.name
        if "/" not in self.media_type:
            raise ValueError(f"media_type must look like 'type/subtype', got {self.media_type!r}")
