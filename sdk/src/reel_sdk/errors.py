"""Errors a generator raises, and how the host treats each.

    GeneratorError            base; an unclassified failure (task fails, not retried)
    ├── InvalidInput          the request cannot succeed as given (fails at once)
    ├── TransientError        may succeed later (retried with backoff)
    │   └── OutOfMemory       device memory ran out (host frees cached models, retries)
    └── Cancelled             the task was cancelled (raised by RunContext)

Any other exception escaping ``generate`` is treated like ``GeneratorError``.
"""

from __future__ import annotations

from typing import Any


class GeneratorError(Exception):
    """A generator failed; the task fails and is not retried."""

    code = "generator_error"
    retryable = False

    def __init__(self, message: str = "", *, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message or self.__class__.__name__)
        self.message = message or self.__class__.__name__
        self.details = details or []


class InvalidInput(GeneratorError):
    """The params (or inputs) cannot produce a result; never retried."""

    code = "invalid_input"


class TransientError(GeneratorError):
    """A failure that may pass (network, a busy device); retried with backoff."""

    code = "transient_error"
    retryable = True


class OutOfMemory(TransientError):
    """The device ran out of memory; the host frees its model cache, then retries."""

    code = "out_of_memory"


class Cancelled(GeneratorError):
    """The task was cancelled; raised by ``RunContext.progress`` and ``check_cancelled``."""

    code = "cancelled"
