"""Tiny diffusers pipelines built once per session, loaded offline from tmp directories."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.plugins.image import tiny


@pytest.fixture(scope="session")
def image_models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("image-models")


@pytest.fixture(scope="session")
def tiny_sd(image_models_dir: Path) -> Path:
    return tiny.build_sd(image_models_dir / "sd")


@pytest.fixture(scope="session")
def tiny_sdxl(image_models_dir: Path) -> Path:
    return tiny.build_sdxl(image_models_dir / "sdxl")


@pytest.fixture(scope="session")
def tiny_flux(image_models_dir: Path) -> Path:
    return tiny.build_flux(image_models_dir / "flux")


@pytest.fixture(autouse=True)
def offline_and_allowed(monkeypatch: pytest.MonkeyPatch, image_models_dir: Path) -> None:
    """Nothing may be downloaded; the tiny models' directory is the allowed set."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("REEL_ALLOWED_MODELS", str(image_models_dir))
