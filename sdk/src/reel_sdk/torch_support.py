"""Helpers for generators built on torch; torch is imported only when called.

    dtype = torch_dtype(ctx.device)             # float16 on CUDA, float32 on CPU
    with translate_oom():                       # torch OOM -> reel_sdk.OutOfMemory
        pipe(..., callback_on_step_end=diffusers_progress(ctx, steps))
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from reel_sdk.errors import OutOfMemory

if TYPE_CHECKING:
    from reel_sdk.context import RunContext


def torch_dtype(device: str, *, half: str = "float16") -> Any:
    """Half precision (``half``: float16 or bfloat16) on CUDA, float32 elsewhere."""
    import torch

    return getattr(torch, half) if str(device).startswith("cuda") else torch.float32


@contextlib.contextmanager
def translate_oom() -> Iterator[None]:
    """Turn a device out-of-memory error into :class:`reel_sdk.OutOfMemory`."""
    try:
        yield
    except Exception as exc:
        if _is_oom(exc):
            free_device_memory()
            raise OutOfMemory(f"device out of memory: {exc}".splitlines()[0][:500]) from exc
        raise


def _is_oom(exc: BaseException) -> bool:
    try:
        import torch

        if isinstance(exc, torch.cuda.OutOfMemoryError):
            return True
    except ImportError:  # pragma: no cover - torch-less plugin
        pass
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def free_device_memory() -> None:
    """Collect garbage and empty the CUDA cache (a no-op without CUDA)."""
    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:  # pragma: no cover
        pass


def diffusers_progress(
    ctx: RunContext, total_steps: int, *, start: float = 0.0, end: float = 1.0, message: str = "step"
) -> Callable[..., dict[str, Any]]:
    """A diffusers ``callback_on_step_end`` reporting each denoising step to ``ctx``.

    Cancellation raises :class:`reel_sdk.Cancelled` from inside the pipeline loop.
    """
    on_step = ctx.steps(total_steps, start=start, end=end, message=message)

    def callback(pipe: Any, step: int, timestep: Any, callback_kwargs: dict[str, Any]) -> dict[str, Any]:
        on_step(step)
        return callback_kwargs

    return callback


def diffusers_batch_progress(
    ctxs: list[RunContext], total_steps: int, *, start: float = 0.0, end: float = 1.0, message: str = "step"
) -> tuple[Callable[..., dict[str, Any]], set[int]]:
    """A ``callback_on_step_end`` for a batch: each step reported to every task's ``ctx``.

    A task cancelled meanwhile does not stop its batch mates: its index is added to the
    returned set (its outputs are then dropped) and it is not reported to again. Only when
    every task is cancelled does the pipeline stop (``Cancelled``).
    """
    from reel_sdk.errors import Cancelled

    steps = [ctx.steps(total_steps, start=start, end=end, message=message) for ctx in ctxs]
    cancelled: set[int] = set()

    def callback(pipe: Any, step: int, timestep: Any, callback_kwargs: dict[str, Any]) -> dict[str, Any]:
        for index, on_step in enumerate(steps):
            if index in cancelled:
                continue
            try:
                on_step(step)
            except Cancelled:
                cancelled.add(index)
        if len(cancelled) == len(ctxs):
            raise Cancelled("every task of the batch was cancelled")
        return callback_kwargs

    return callback, cancelled
