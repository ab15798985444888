"""The storage interface and the factory that picks a backend from REEL_STORAGE_URL."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

if TYPE_CHECKING:
    from reel_host.settings import Settings

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def output_key(project: str, task_id: str, name: str) -> str:
    """``projects/<project>/tasks/<task>/<file>``, with the file name made safe."""
    safe = _SAFE_NAME.sub("_", Path(name).name).strip("._") or "output"
    return f"projects/{project}/tasks/{task_id}/{safe}"


class Storage(ABC):
    """Stores output files by key and hands out expiring URLs to them."""

    @abstractmethod
    def put(self, key: str, path: Path, media_type: str) -> int:
        """Store the file at ``path`` under ``key``; return its size in bytes."""

    @abstractmethod
    def url(self, key: str, *, media_type: str, filename: str, ttl_s: int) -> str:
        """A URL that downloads ``key`` until ``ttl_s`` seconds from now."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove one object (missing is fine)."""

    @abstractmethod
    def delete_prefix(self, prefix: str) -> None:
        """Remove every object under ``prefix`` (a discarded run's outputs)."""

    @abstractmethod
    def check(self) -> None:
        """Raise if the storage cannot be used (readiness probe)."""


def make_storage(settings: Settings) -> Storage:
    """The backend named by ``REEL_STORAGE_URL`` (``file://`` or ``s3://``)."""
    url = settings.resolved_storage_url
    scheme = urlparse(url).scheme
    if scheme == "file":
        from reel_host.storage.local import LocalStorage

        return LocalStorage(Path(urlparse(url).path), settings)
    if scheme in ("s3", "r2"):
        from reel_host.storage.s3 import S3Storage  # type: ignore[import-not-found]

        return S3Storage.from_settings(settings)  # type: ignore[no-any-return]
    raise ValueError(f"REEL_STORAGE_URL must start with file:// or s3://, got {url!r}")
