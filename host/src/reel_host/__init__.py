"""reel_host: the API, queue, workers, records and storage of Reel."""

__version__ = "0.1.0"
