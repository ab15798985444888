"""The run context a generator receives: progress, cancellation, workdir, device, log."""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from pathlib import Path

from reel_sdk.errors import Cancelled


class RunContext:
    """Everything a running generator may ask of its host.

    The host subclasses this to persist progress and to learn of cancellation;
    the testing kit uses it as is. Generators only call the public members.

    Args:
        workdir: an empty directory owned by this run; outputs are written here.
        device: ``"cpu"`` or ``"cuda:N"``.
        log: a logger whose records are kept with the task.
        task_id: the host's task id (None outside a host).
    """

    def __init__(
        self,
        workdir: Path,
        device: str = "cpu",
        log: logging.Logger | None = None,
        task_id: str | None = None,
    ) -> None:
        self.workdir = Path(workdir)
        self.device = device
        self.task_id = task_id
        self.log = log or logging.getLogger(f"reel.task.{task_id or 'local'}")
        self._cancel_event = threading.Event()

    # -- what generators call -------------------------------------------------
    @property
    def cancelled(self) -> bool:
        """True once the task was cancelled; the generator should stop soon."""
        if not self._cancel_event.is_set() and self._poll_cancelled():
            self._cancel_event.set()
        return self._cancel_event.is_set()

    def check_cancelled(self) -> None:
        """Raise :class:`Cancelled` if the task was cancelled."""
        if self.cancelled:
            raise Cancelled("task was cancelled")

    def progress(self, fraction: float, message: str | None = None) -> None:
        """Report progress between 0 and 1, then raise :class:`Cancelled` if cancelled.

        Args:
            fraction: how much of the work is done, 0..1.
            message: a short human phrase ("step 3/20").

        Raises:
            ValueError: fraction is not a number in 0..1.
            Cancelled: the task was cancelled.
        """
        if not isinstance(fraction, (int, float)) or math.isnan(fraction) or not 0 <= fraction <= 1:
            raise ValueError(f"progress fraction must be within 0..1, got {fraction!r}")
        self._report_progress(float(fraction), message)
        self.check_cancelled()

    def steps(
        self, total: int, *, start: float = 0.0, end: float = 1.0, message: str = "step"
    ) -> Callable[[int], None]:
        """Return ``on_step(i)`` that reports step ``i+1`` of ``total`` as progress.

        Handy inside a diffusers ``callback_on_step_end`` or a sampling loop:
        progress runs from ``start`` to ``end`` and cancellation is checked each step.
        """
        if total < 1:
            raise ValueError(f"total must be >= 1, got {total}")

        def on_step(i: int) -> None:
            done = min(i + 1, total)
            self.progress(start + (end - start) * done / total, f"{message} {done}/{total}")

        return on_step

    # -- what hosts override or call ------------------------------------------
    def cancel(self) -> None:
        """Mark the run cancelled (the host or a test calls this)."""
        self._cancel_event.set()

    def _report_progress(self, fraction: float, message: str | None) -> None:
        """Persist or forward one progress report (the base class only logs it)."""
        self.log.debug("progress %.3f %s", fraction, message or "")

    def _poll_cancelled(self) -> bool:
        """Ask the host whether the task was cancelled (base: never)."""
        return False
