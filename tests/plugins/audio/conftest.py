"""Tiny Bark and MusicGen models built once per session, loaded offline from tmp directories."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.plugins.audio import tiny


@pytest.fixture(scope="session")
def audio_models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("audio-models")


@pytest.fixture(scope="session")
def tiny_bark(audio_models_dir: Path) -> Path:
    return tiny.build_bark(audio_models_dir / "bark")


@pytest.fixture(scope="session")
def tiny_musicgen(audio_models_dir: Path) -> Path:
    return tiny.build_musicgen(audio_models_dir / "musicgen")


@pytest.fixture(autouse=True)
def offline_and_allowed(monkeypatch: pytest.MonkeyPatch, audio_models_dir: Path) -> None:
    """Nothing may be downloaded; the tiny models' directory is the allowed set."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("REEL_ALLOWED_MODELS", str(audio_models_dir))
