"""Fixtures for reel-video's tests: tiny pipelines built once per session, never downloaded."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# huggingface_hub reads these at import time: nothing in these tests may reach the Hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny random-weight Wan, LTX-Video and CogVideoX pipelines saved under one folder."""
    from tests.plugins.video.tiny import BUILDERS

    root = tmp_path_factory.mktemp("tiny-video-models")
    return {family: build(root / family) for family, build in BUILDERS.items()}


@pytest.fixture
def allow_tiny(tiny_models: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Allow the tiny models' folder (and only it) through REEL_ALLOWED_MODELS."""
    root = next(iter(tiny_models.values())).parent
    monkeypatch.setenv("REEL_ALLOWED_MODELS", str(root))
    return tiny_models
