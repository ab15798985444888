"""The storage interface and the factory that picks a backend from REEL_STORAGE_URL."""

from __future__ import annotations

import fnmatch
import re
from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from reel_sdk import GeneratorError

if TYPE_CHECKING:
    from reel_host.settings import Settings

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_MEDIA_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$")


class OutputRefused(GeneratorError):
    """An output cannot be stored: its media type or size is not allowed (the task fails, no retry)."""

    code = "output_refused"


def check_output(path: Path, media_type: str, settings: Settings) -> int:
    """Check an output before it is stored; return its size. Raises OutputRefused."""
    if not _MEDIA_TYPE.match(media_type or ""):
        raise OutputRefused(
            f"output {path.name!r} has a malformed media type {media_type!r} (want type/subtype)")
    allowed = [p.strip().lower() for p in settings.storage_media_types.split(",") if p.strip()]
    if allowed and not any(fnmatch.fnmatchcase(media_type.lower(), p) for p in allowed):
        raise OutputRefused(f"output {path.name!r} has media type {media_type!r}, "
                            f"not in REEL_STORAGE_MEDIA_TYPES ({settings.storage_media_types})")
    size = path.stat().st_size
    if size > settings.storage_max_output_bytes:
        raise OutputRefused(f"output {path.name!r} is {size} bytes, over REEL_STORAGE_MAX_OUTPUT_BYTES "
                            f"({settings.storage_max_output_bytes})")
    return size


def safe_name(name: str) -> str:
    """A file name every storage accepts: letters, digits, ``.``, ``_`` and ``-``."""
    return _SAFE_NAME.sub("_", Path(name).name).strip("._") or "output"


def output_key(project: str, task_id: str, name: str, attempt: int = 1, run: int = 0) -> str:
    """``projects/<project>/tasks/<task>/a<attempt>[r<run>]/<file>``, with the file name made safe.

    Each run stores under its own segment, so a superseded or cancelled run that is still
    uploading can neither overwrite nor delete the objects of the run that replaced it.
    """
    segment = f"a{attempt}" + (f"r{run}" if run else "")
    return f"projects/{project}/tasks/{task_id}/{segment}/{safe_name(name)}"


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

    def durable_url(self, key: str) -> str | None:
        """A URL that never expires (a public bucket URL), or None where there is none."""
        return None

    def read_bytes(self, key: str) -> bytes:
        """The stored object's bytes (the CMS bridge uploads outputs into Payload)."""
        raise NotImplementedError


def make_storage(settings: Settings) -> Storage:
    """The backend named by ``REEL_STORAGE_URL`` (``file://`` or ``s3://``)."""
    url = settings.resolved_storage_url
    scheme = urlparse(url).scheme
    if scheme == "file":
        from reel_host.storage.local import LocalStorage

        return LocalStorage(Path(urlparse(url).path), settings)
    if scheme in ("s3", "r2"):
        from reel_host.storage.s3 import S3Storage

        return S3Storage.from_settings(settings)
    raise ValueError(f"REEL_STORAGE_URL must start with file:// or s3://, got {url!r}")
