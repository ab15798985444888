"""reel_image: text-to-image generators for Reel (imports no torch at top level)."""

from reel_image.generator import DiffusersImage, DiffusersImageParams

__version__ = "0.1.0"

__all__ = ["DiffusersImage", "DiffusersImageParams", "__version__"]
