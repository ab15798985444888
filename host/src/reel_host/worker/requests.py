"""The worker main process's view of one message: time limits, timeouts, lost children.

Celery runs ``reel.run`` in a pool child; this Request lives in the main process,
which survives the child. It gives each message the time limits of its generator
(soft: the limit, raised in the child as ``SoftTimeLimitExceeded``; hard: the limit
plus ``REEL_CANCEL_GRACE_S``, when the main process kills the child), records a hard
timeout as ``time_limit_exceeded``, and decides what happens to the message of a
child that died (see :mod:`reel_host.lifecycle.lost`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from celery.exceptions import WorkerLostError
from celery.worker.request import Request
from celery.worker.state import task_ready

from reel_host.lifecycle.lost import TIME_LIMIT_CODE, child_lost, close_dead_run, fail_for_time_limit
from reel_host.runtime import Runtime

log = logging.getLogger("reel.worker")

# billiard checks time limits once a second: a smaller gap could skip the soft limit
MIN_HARD_GAP_S = 2.0

__all__ = ["TIME_LIMIT_CODE", "hard_gap", "make_request_class"]


def hard_gap(rt: Runtime) -> float:
    """Seconds between a run's soft limit and the hard one that kills its process."""
    return max(rt.settings.cancel_grace_s, MIN_HARD_GAP_S)


def make_request_class(
    rt: Runtime, worker_id: str, soft_limit_of: Callable[[str | None], float]
) -> type[Request]:
    """A Request subclass bound to this worker (Celery instantiates it per message)."""
    gap = hard_gap(rt)

    class ReelRequest(Request):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            soft = soft_limit_of((self.kwargs or {}).get("generator"))
            self.reel_soft_limit = soft
            self.time_limits = (soft + gap, soft)  # (hard, soft), as Celery reads them

        @property
        def reel_task(self) -> tuple[str, int] | None:
            try:
                return str(self.args[0]), int(self.args[1])
            except (IndexError, TypeError, ValueError):
                return None

        def on_timeout(self, soft: bool, timeout: float) -> None:
            target = self.reel_task
            if not soft and target is not None:
                try:
                    if fail_for_time_limit(rt, worker_id, *target, self.reel_soft_limit, gap):
                        log.error(
                            "task %s attempt %s: hard time limit of %ss reached; killing its process",
                            *target,
                            timeout,
                        )
                    else:  # it had ended already (cancelled, superseded): only its row is left open
                        close_dead_run(rt, worker_id, *target)
                except Exception:
                    log.exception("recording the time limit of %s failed", target)
            super().on_timeout(soft, timeout)

        def on_failure(self, exc_info: Any, send_failed_event: bool = True, return_ok: bool = False) -> None:
            exc = getattr(exc_info.exception, "exc", exc_info.exception)
            target = self.reel_task
            lost = isinstance(exc, WorkerLostError) or (
                isinstance(exc, SystemExit | KeyboardInterrupt)
                and not (self._already_cancelled or self._already_revoked)
            )
            if lost and target is not None:
                try:
                    outcome = child_lost(rt, worker_id, *target)
                except Exception:  # records unreachable: let Celery requeue; claim() bounds it
                    log.exception("recording the lost run of %s failed", target)
                    outcome = "requeue"
                if outcome == "drop":
                    task_ready(self)
                    self.acknowledge()
                    return
            super().on_failure(exc_info, send_failed_event=send_failed_event, return_ok=return_ok)

    return ReelRequest
