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
            # offline, diffusers and transformers say "does not appear to have a file named ...":
            # not the request's fault when the model is not cached and the Hub cannot be asked
            cause = None if is_local_model(model) else hub_unreachable(model)
            if cause is not None:
                raise TransientError(f"{field} {model!r} is not cached here and {cause}") from exc
            raise _invalid(f"{field} {model!r} is not a usable model here: {text}", field, model) from exc
        if isinstance(exc, (OSError, ConnectionError)):
            raise TransientError(f"could not load {field} {model!r}: {text}") from exc
        raise


def hub_unreachable(model: str, timeout_s: float = 5.0) -> str | None:
    """Why the Hub cannot say whether ``model`` exists (offline mode, no network), or None.

    Asks the Hub for the repository once: an answer (found or not) means the error was
    about the model; no answer is a transient failure, named.
    """
    from huggingface_hub import HfApi, constants
    from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError

    if constants.HF_HUB_OFFLINE:
        return "the Hub is not asked (HF_HUB_OFFLINE=1); pull it ahead with `reel models pull`"
    try:
        HfApi().model_info(model, timeout=timeout_s)
    except (RepositoryNotFoundError, GatedRepoError):
        return None
    except HfHubHTTPError as exc:
        status = getattr(getattr(exc, "response", None), "status_code", None)
        return None if status is not None and status < 500 else f"the Hub answered {status or 'an error'}"
    except Exception as exc:  # DNS, refused, timeout: the Hub is unreachable from this worker
        return f"the Hub ({constants.ENDPOINT}) is unreachable: {type(exc).__name__}: {str(exc)[:200]}"
    return None


def _invalid(message: str, field: str, value: str) -> InvalidInput:
    return InvalidInput(message, details=[{"field": field, "message": message, "value": value}])
