"""reel_audio: speech and music generators for Reel (imports no torch at top level)."""

from reel_audio.bark import Bark, BarkParams
from reel_audio.musicgen import MusicGen, MusicGenParams

__version__ = "0.1.0"

__all__ = ["Bark", "BarkParams", "MusicGen", "MusicGenParams", "__version__"]
