"""reel_sdk: the contract between Reel and its generator plugins."""

from reel_sdk.context import RunContext
from reel_sdk.errors import Cancelled, GeneratorError, InvalidInput, OutOfMemory, TransientError
from reel_sdk.generator import Generator
from reel_sdk.hookspecs import ENTRY_POINT_GROUP, ReelSpec, hookimpl, hookspec
from reel_sdk.outputs import Output
from reel_sdk.requirements import Requirements

__version__ = "0.1.0"

__all__ = [
    "ENTRY_POINT_GROUP",
    "Cancelled",
    "Generator",
    "GeneratorError",
    "InvalidInput",
    "OutOfMemory",
    "Output",
    "ReelSpec",
    "Requirements",
    "RunContext",
    "TransientError",
    "__version__",
    "hookimpl",
    "hookspec",
]
