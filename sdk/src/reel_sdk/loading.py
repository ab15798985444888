"""Model locations and load failures: which are the request's fault, which may pass.

For generators that load Hugging Face models by id or local directory::

    with load_errors_translated(model):
        pipe = DiffusionPipeline.from_pretrained(model, local_files_only=is_local_model(model))

A missing directory or an unknown repository becomes ``InvalidInput`` (never retried);
a model that is not cached while the Hub is unreachable becomes ``TransientError``.
``huggingface_hub`` is imported only when a load fails.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from reel_sdk.errors import InvalidInput, TransientError

# The prefixes reel_sdk.models treats as directories.
LOCAL_PREFIXES = ("/", "./", "~")

_NOT_A_MODEL = ("not a valid model identifier", "does not appear to have", "404", "not found")


def is_local_model(model: str) -> bool:
    """True when ``model`` names a local directory rather than a Hub id."""
    return model.startswith(LOCAL_PREFIXES)


def canonical_model(model: str) -> str:
    """The cache key of a model: a local directory as its resolved path, a Hub id as is."""
    return str(Path(model).expanduser().resolve()) if is_local_model(model) else model


@contextlib.contextmanager
def load_errors_translated(model: str, field: str = "model") -> Iterator[None]:
    """Turn loading failures into ``InvalidInput`` (bad model) or ``TransientError`` (network)."""
    if is_local_model(model) and not Path(model).expanduser().is_dir():
        raise _invalid(f"{field} {model!r} is not a directory on this worker", field, model)
    try:
        yield
    except (InvalidInput, TransientError):
        raise
    except Exception as exc:
        from huggingface_hub.errors import (
            EntryNotFoundError,
            GatedRepoError,
            LocalEntryNotFoundError,
            RepositoryNotFoundError,
            RevisionNotFoundError,
        )

        text = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        if isinstance(exc, LocalEntryNotFoundError):
            raise TransientError(
                f"{field} {model!r} is not cached and the Hub is unreachable: {text}"
            ) from exc
        if isinstance(
            exc, (RepositoryNotFoundError, GatedRepoError, RevisionNotFoundError, EntryNotFoundError)
        ):
            raise _invalid(f"{field} {model!r} cannot be loaded: {text}", field, model) from exc
        if isinstance(exc, ValueError) or any(m in str(exc) for m in _NOT_A_MODEL):
            raise _invalid(f"{field} {model!r} is not a usable model here: {text}", field, model) from exc
        if isinstance(exc, (OSError, ConnectionError)):
            raise TransientError(f"could not load {field} {model!r}: {text}") from exc
        raise


def _invalid(message: str, field: str, value: str) -> InvalidInput:
    return InvalidInput(message, details=[{"field": field, "message": message, "value": value}])
