"""The Reel plugin module named by the ``reel.plugins`` entry point."""

from __future__ import annotations

from reel_sdk import Generator, hookimpl

from reel_video.diffusers_video import DiffusersVideo
from reel_video.remote import RemoteVideo


@hookimpl
def reel_generators() -> list[Generator]:
    """``video.diffusers`` and ``video.remote``."""
    return [DiffusersVideo(), RemoteVideo()]
