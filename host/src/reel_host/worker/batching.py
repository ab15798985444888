"""Dynamic batching: run compatible queued tasks together in one ``generate_batch`` call.

Where the operator set a batch size for a generator (``REEL_BATCH_SIZES``, or the pool
TOML's ``[settings] batch_sizes``) and the generator names a ``batch_key``, a worker that
claimed one task looks in the records for queued tasks of the same generator with the
same key, for up to ``REEL_BATCH_WAIT_S``, and claims them too (each by the same fenced
claim as a message would). Their broker messages stay in the queue and are dropped on
delivery, since their attempt is no longer queued. Dispatch from the records is what
makes this safe: nothing is taken from the broker that the records do not say.
"""

from __future__ import annotations

import logging
import time

from sqlalchemy import select

from reel_host.lifecycle import runs
from reel_host.lifecycle.runs import Claim
from reel_host.lifecycle.status import TaskStatus
from reel_host.records.models import Task
from reel_host.runtime import Runtime

log = logging.getLogger("reel.worker")

POLL_S = 0.01


def gather_batch(rt: Runtime, first: Claim, worker_id: str) -> list[Claim]:
    """Claim up to ``size - 1`` queued tasks that may run with ``first``; [] where batching is off."""
    size = rt.settings.batch_sizes.get(first.task.generator, 1)
    gen = rt.registry.get(first.task.generator)
    if size <= 1 or gen is None:
        return []
    try:
        key = gen.batch_key(gen.parse_params(first.task.params))
    except Exception:
        return []
    if key is None:
        return []
    mates: list[Claim] = []
    skipped: set[str] = {first.task.id}
    deadline = time.monotonic() + rt.settings.batch_wait_s
    while len(mates) < size - 1:
        with rt.sessions() as session:
            candidates = session.execute(
                select(Task.id, Task.attempts, Task.params)
                .where(Task.generator == first.task.generator, Task.status == TaskStatus.QUEUED,
                       Task.dispatched_at.is_not(None), Task.id.not_in(skipped))
                .order_by(Task.priority.desc(), Task.queued_at).limit(4 * size)
            ).all()
        for task_id, attempt, params in candidates:
            skipped.add(task_id)
            try:
                if gen.batch_key(gen.parse_params(params)) != key:
                    continue
            except Exception:
                continue  # its own run will report the bad params
            claim = runs.claim(rt, task_id, attempt, worker_id)
            if claim is not None:
                mates.append(claim)
                if len(mates) == size - 1:
                    break
        if time.monotonic() >= deadline:
            break
        time.sleep(POLL_S)
    return mates
