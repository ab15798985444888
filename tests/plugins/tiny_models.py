"""One tiny random-weight model per shipped generator family, side by side under one root."""

from __future__ import annotations

from pathlib import Path


def build_shipped(root: Path) -> Path:
    """``root/sd`` (image.diffusers), ``root/wan`` (video.diffusers), ``root/bark`` (audio); returns ``root``."""
    from tests.plugins.audio.tiny import build_bark
    from tests.plugins.image.tiny import build_sd
    from tests.plugins.video.tiny import build_wan

    build_sd(root / "sd")
    build_wan(root / "wan")
    build_bark(root / "bark")
    return root
