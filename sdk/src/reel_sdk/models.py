"""Which models a deployment lets requests name (``REEL_ALLOWED_MODELS``).

The operator sets ``REEL_ALLOWED_MODELS`` to a comma-separated list of model ids,
shell-style globs (``stabilityai/*``) or local directories (a directory allows
itself and everything under it). Unset, a generator allows only its own default
models. A generator calls :func:`check_model_allowed` from its Params validator,
so a bad ``model`` is refused at submit time with a 4xx naming the allowed set.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable
from pathlib import Path

from reel_sdk.errors import InvalidInput

ENV_VAR = "REEL_ALLOWED_MODELS"


def allowed_models(defaults: Iterable[str]) -> list[str]:
    """The allowed patterns: ``REEL_ALLOWED_MODELS`` if set, else ``defaults``."""
    raw = os.environ.get(ENV_VAR, "").strip()
    if not raw:
        return list(defaults)
    return [p.strip() for p in raw.split(",") if p.strip()]


def is_model_allowed(model: str, patterns: Iterable[str]) -> bool:
    """True if ``model`` matches an id, glob or directory in ``patterns``."""
    for pattern in patterns:
        if model == pattern or fnmatch.fnmatchcase(model, pattern):
            return True
        if pattern.startswith(("/", "./", "~")) and model.startswith(("/", "./", "~")):
            base = Path(pattern).expanduser().resolve()
            target = Path(model).expanduser().resolve()
            if target == base or base in target.parents:
                return True
    return False


def check_model_allowed(model: str, defaults: Iterable[str], field: str = "model") -> str:
    """Return ``model`` if allowed, else raise a ``ValueError`` naming the allowed set.

    Raising ``ValueError`` lets pydantic report it against the field; outside a
    validator, catch it or use :func:`require_model_allowed`.
    """
    patterns = allowed_models(defaults)
    if not is_model_allowed(model, patterns):
        raise ValueError(f"{field} {model!r} is not allowed here; allowed: {', '.join(patterns) or 'none'}")
    return model


def require_model_allowed(model: str, defaults: Iterable[str], field: str = "model") -> str:
    """Like :func:`check_model_allowed` but raises :class:`InvalidInput`."""
    try:
        return check_model_allowed(model, defaults, field)
    except ValueError as exc:
        raise InvalidInput(str(exc), details=[{"field": field, "message": str(exc)}]) from None
