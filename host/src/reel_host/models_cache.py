"""Where a generator's models are on this machine: the Hugging Face cache or a local directory.

Read from the filesystem only (no network, no import of the ML libraries), so ``reel
doctor`` and ``reel models list`` answer quickly on any machine.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass
class CachedModel:
    model: str
    cached: bool
    bytes: int
    path: Path | None


def hub_cache_dir() -> Path:
    """The Hub cache as huggingface_hub resolves it (HF_HUB_CACHE, HF_HOME, or ~/.cache)."""
    try:
        from huggingface_hub import constants

        return Path(constants.HF_HUB_CACHE)
    except ImportError:
        home = os.environ.get("HF_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "huggingface")
        return Path(os.environ.get("HF_HUB_CACHE") or os.path.join(home, "hub"))


def _size(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += (Path(root) / name).stat().st_size  # blobs; snapshots are links to them
            except OSError:
                continue
    return total


def locate(model: str) -> CachedModel:
    """Is ``model`` (a Hub id or a local directory) on this machine, and how big is it?"""
    if model.startswith(("/", "./", "~")):
        path = Path(model).expanduser()
        return CachedModel(model, path.is_dir(), _size(path) if path.is_dir() else 0, path)
    if "/" not in model:
        return CachedModel(model, False, 0, None)  # not a Hub id (a test or remote model key)
    repo = hub_cache_dir() / ("models--" + model.replace("/", "--"))
    snapshots = repo / "snapshots"
    cached = snapshots.is_dir() and any(snapshots.iterdir())
    return CachedModel(model, cached, _size(repo / "blobs") if cached else 0, repo if cached else None)
