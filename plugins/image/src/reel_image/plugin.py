"""The Reel plugin module named by the ``reel.plugins`` entry point ``image``."""

from __future__ import annotations

from reel_sdk import Generator, hookimpl

from reel_image.generator import DiffusersImage


@hookimpl
def reel_generators() -> list[Generator]:
    return [DiffusersImage()]
