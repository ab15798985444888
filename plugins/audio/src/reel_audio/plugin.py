"""The Reel plugin module named by the ``reel.plugins`` entry point ``audio``."""

from __future__ import annotations

from reel_sdk import Generator, hookimpl

from reel_audio.bark import Bark
from reel_audio.musicgen import MusicGen


@hookimpl
def reel_generators() -> list[Generator]:
    return [Bark(), MusicGen()]
