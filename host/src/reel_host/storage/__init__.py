"""Where outputs live: a local directory or an S3-compatible bucket."""

from reel_host.storage.base import Storage, make_storage, output_key, safe_name

__all__ = ["Storage", "make_storage", "output_key", "safe_name"]
