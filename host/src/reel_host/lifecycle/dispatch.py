"""The dispatch outbox: the records say what must run; the broker only carries it.

A queued attempt is handed to the broker in one of two ways:

- right after the transaction that queued it commits (submit, retry, a lost worker's
  requeue): :func:`publish_after_commit`. If the publish fails (broker down), the task's
  ``dispatched_at`` goes back to null and the reconciler sends it when it can. A broker
  outage leaves tasks queued, never failed;
- when it is due (``due_at``, the backoff of a transient retry) by the reconciler, which
  also finds queued attempts whose message the broker lost (a Redis restart without
  persistence, a crash between commit and publish, a worker killed between taking a
  message and claiming it, the embedded transport's destructive read) and sends them
  again.

A message may therefore be sent twice; the claim (a conditional ``UPDATE`` on attempt
and status) lets exactly one delivery run.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from sqlalchemy import event as sa_event
from sqlalchemy import func, select, text, tuple_, update
from sqlalchemy.orm import Session

from reel_host import forksafe
from reel_host.lifecycle.fence import ago, now_of
from reel_host.lifecycle.status import TaskStatus
from reel_host.queue.celery_app import RUN_TASK, celery_priority, queue_for
from reel_host.queue.inspect import queued_messages
from reel_host.records.db import rowcount
from reel_host.records.models import Task
from reel_host.services.limits import hold_for_running_cap, running_slot_free, under_running_cap

if TYPE_CHECKING:
    from reel_host.runtime import Runtime

log = logging.getLogger("reel.dispatch")

RECONCILE_LOCK = 7263002  # PostgreSQL advisory lock: one reconciler works at a time
LOCK_HOLD_MAX_S = 10.0  # a reconciler that holds the lock this long without a word loses it (and its connection)
# a publish gives up quickly: the record keeps the task, and the reconciler sends it later
PUBLISH_RETRY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}


def send(rt: Runtime, task_id: str, attempt: int, generator: str, priority: int, producer: Any = None) -> None:
    """Put one attempt on its generator's queue (raises when the broker is unreachable).

    ``producer``: one taken from the app's pool for several sends (a batch), else one per send.
    """
    rt.celery.send_task(
        RUN_TASK,
        args=[task_id, attempt],
        kwargs={"generator": generator},  # the worker picks the generator's time limits by it
        queue=queue_for(generator),
        priority=celery_priority(priority),
        retry=True,
        retry_policy=PUBLISH_RETRY,
        producer=producer,
    )


def publish_after_commit(session: Session, rt: Runtime, task: Task) -> None:
    """Send the task's current attempt once ``session`` commits (nothing if it rolls back)."""
    if hold_for_running_cap(session, task):  # project limits: the reconciler sends it under the cap
        return
    pending: list[tuple[str, int, str, int]] | None = session.info.get("reel_dispatch")
    if pending is None:
        pending = session.info["reel_dispatch"] = []
        session.info["reel_dispatch_rt"] = rt
        sa_event.listen(session, "after_commit", _send_pending)
        sa_event.listen(session, "after_rollback", _drop_pending)
    pending.append((task.id, task.attempts, task.generator, task.priority))


def _send_pending(session: Session) -> None:
    pending = list(session.info.get("reel_dispatch", ()))
    session.info["reel_dispatch"].clear()
    rt = session.info["reel_dispatch_rt"]
    sent = 0
    try:
        with rt.celery.producer_or_acquire() as producer:  # one producer for the whole batch
            for task_id, attempt, generator, priority in pending:
                send(rt, task_id, attempt, generator, priority, producer)
                sent += 1
    except Exception as exc:
        # the broker is away: the rest of the batch is not tried (one failed publish per
        # request, not one per task); the reconciler sends them when it is back
        unsent = [(task_id, attempt) for task_id, attempt, *_ in pending[sent:]]
        if not unsent:  # all went out; only giving the producer back failed
            return
        log.warning("broker unavailable; %d task(s) stay queued and are sent when it is back (%s): %s",
                    len(unsent), ", ".join(t for t, _ in unsent[:5]), exc)
        _undispatch(rt, unsent)


def _drop_pending(session: Session) -> None:
    session.info.get("reel_dispatch", []).clear()


def _undispatch(rt: Runtime, attempts: list[tuple[str, int]]) -> None:
    """Mark the attempts as not sent, so the reconciler sends them (best effort: a failure here
    is found by the lost-message check instead)."""
    try:
        with rt.sessions() as session:
            session.execute(update(Task).where(tuple_(Task.id, Task.attempts).in_(attempts),
                                               Task.status == TaskStatus.QUEUED).values(dispatched_at=None))
            session.commit()
    except Exception:
        log.warning("could not mark %d task(s) for a later dispatch; the reconciler will find them", len(attempts))


# -- the reconciler --------------------------------------------------------------------


def dispatch_due(rt: Runtime, limit: int = 500) -> int:
    """Send queued attempts that are due and not sent yet; return how many were sent."""
    sent = 0
    with rt.sessions() as session:
        rows = session.execute(
            select(Task.id, Task.attempts, Task.generator, Task.priority)
            .where(Task.status == TaskStatus.QUEUED, Task.dispatched_at.is_(None),
                   func.coalesce(Task.due_at, Task.queued_at) <= now_of(session))
            .where(under_running_cap())  # project limits: max_running
            .order_by(Task.priority.desc(), Task.queued_at).limit(limit)
        ).all()
        for task_id, attempt, generator, priority in rows:
            if not running_slot_free(session, task_id):  # project limits: sent ones count at once
                continue
            taken = session.execute(
                update(Task).where(Task.id == task_id, Task.attempts == attempt,
                                   Task.status == TaskStatus.QUEUED, Task.dispatched_at.is_(None))
                .values(dispatched_at=now_of(session))
            )
            session.commit()  # the row says "sent" before the message exists: a crash is found below
            if rowcount(taken) == 0:
                continue
            try:
                send(rt, task_id, attempt, generator, priority)
                sent += 1
            except Exception as exc:
                log.warning("broker unavailable; %d due tasks wait: %s", len(rows), exc)
                _undispatch(rt, [(task_id, attempt)])
                break
    return sent


def redispatch_lost(rt: Runtime) -> int:
    """Send again queued attempts whose message is in no queue; return how many.

    Cheap when nothing is lost: per generator, the number of queued, sent attempts is
    compared with the broker queue's length, and only a queue that holds fewer messages
    is listed to find which attempts are missing.
    """
    grace = rt.settings.redispatch_after_s
    resent = 0
    with rt.sessions() as session:
        expected = dict(session.execute(
            select(Task.generator, func.count()).where(Task.status == TaskStatus.QUEUED,
                                                       Task.dispatched_at.is_not(None))
            .group_by(Task.generator)
        ).all())
    for generator, count in expected.items():
        queue = queue_for(generator)
        listing = queued_messages(rt.celery, queue, only_if_fewer_than=count)
        if listing is None:
            continue  # the queue holds at least as many messages as there are queued attempts
        with rt.sessions() as session:
            stale = session.execute(
                select(Task.id, Task.attempts, Task.priority, Task.dispatched_at)
                .where(Task.generator == generator, Task.status == TaskStatus.QUEUED,
                       Task.dispatched_at.is_not(None), Task.dispatched_at < ago(session, grace))
            ).all()
            for task_id, attempt, priority, dispatched_at in stale:
                if (task_id, attempt) in listing:
                    continue
                taken = session.execute(
                    update(Task).where(Task.id == task_id, Task.attempts == attempt,
                                       Task.status == TaskStatus.QUEUED, Task.dispatched_at == dispatched_at)
                    .values(dispatched_at=now_of(session))
                )
                session.commit()
                if rowcount(taken) == 0:
                    continue  # claimed meanwhile
                try:
                    send(rt, task_id, attempt, generator, priority)
                except Exception as exc:
                    log.warning("broker unavailable while re-sending lost messages: %s", exc)
                    return resent
                resent += 1
                log.warning("task %s attempt %s: its message was lost by the broker; sent again", task_id, attempt)
    return resent


class Reconciler:
    """A daemon thread of API and worker processes: dispatches due tasks, re-sends lost
    messages and re-queues the tasks of lost workers. On PostgreSQL an advisory lock lets
    one process at a time do it; every step is fenced, so two at once would still be safe.
    """

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="reel-reconciler", daemon=True)
        self._next_sweep = 0.0

    def start(self) -> Reconciler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _loop(self) -> None:
        while not self._stop.wait(self.rt.settings.dispatch_poll_s):
            try:
                with forksafe.quiet():
                    self.run_once()
            except Exception as exc:  # database or broker away: try again next tick
                log.warning("reconciler: %s: %s", type(exc).__name__, exc)

    def run_once(self, *, sweep: bool | None = None) -> None:
        import time

        from reel_host.lifecycle.lost import requeue_lost_tasks

        with self.rt.engine.connect() as conn:
            locking = conn.dialect.name == "postgresql"
            if locking:
                # a transaction-level lock that PostgreSQL takes back from a frozen holder: a process
                # paused mid-pass (SIGSTOP, a suspended VM) would otherwise hold a session lock, and
                # stop every reconciler (lost workers never re-queued), for as long as it is paused
                conn.execute(text(f"SET LOCAL idle_in_transaction_session_timeout = {int(LOCK_HOLD_MAX_S * 1000)}"))
                if not conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": RECONCILE_LOCK}).scalar():
                    conn.rollback()
                    return
            try:
                dispatch_due(self.rt)
                now = time.monotonic()
                if sweep or (sweep is None and now >= self._next_sweep):
                    self._next_sweep = now + self.rt.settings.reconcile_s
                    requeue_lost_tasks(self.rt)
                    redispatch_lost(self.rt)
            finally:
                if locking:
                    conn.rollback()  # ends the lock's transaction (nothing was written on it)
