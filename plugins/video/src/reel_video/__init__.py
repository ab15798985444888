"""reel_video: Reel's video generators (diffusers text-to-video and a remote streaming API).

Importing this package is cheap: torch, diffusers and PyAV are imported only when a
generator loads a model or encodes a video.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
