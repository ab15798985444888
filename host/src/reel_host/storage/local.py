"""Local-directory storage; the API serves its files at signed, expiring URLs."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from reel_host.paths import API_PREFIX
from reel_host.signing import Signer
from reel_host.storage.base import Storage, check_output

if TYPE_CHECKING:
    from reel_host.settings import Settings


class LocalStorage(Storage):
    def __init__(self, root: Path, settings: Settings) -> None:
        self.root = root.resolve()
        self.settings = settings
        self._signer: Signer | None = None

    @property
    def signer(self) -> Signer:
        if self._signer is None:  # workers never sign, so they never need the secret
            self._signer = Signer(self.settings.resolved_secret_key())
        return self._signer

    def path_of(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root not in path.parents:
            raise ValueError(f"storage key escapes the storage root: {key!r}")
        return path

    def put(self, key: str, path: Path, media_type: str) -> int:
        check_output(path, media_type, self.settings)
        target = self.path_of(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".part")
        shutil.copyfile(path, tmp)
        tmp.replace(target)
        return target.stat().st_size

    def url(self, key: str, *, media_type: str, filename: str, ttl_s: int) -> str:
        token = self.signer.sign_file(key, media_type, filename, ttl_s)
        return f"{self.settings.public_url.rstrip('/')}{API_PREFIX}/files/{token}"

    def delete(self, key: str) -> None:
        self.path_of(key).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> None:
        shutil.rmtree(self.path_of(prefix.rstrip("/")), ignore_errors=True)

    def read_bytes(self, key: str) -> bytes:
        return self.path_of(key).read_bytes()

    def check(self) -> None:
        # no probe file: a readiness check runs every few seconds and must not write each time
        self.root.mkdir(parents=True, exist_ok=True)
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise OSError(f"storage directory {self.root} is not writable")
