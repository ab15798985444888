"""Push, not poll: state changes reach every API process as they are committed.

Publishing: each transition that changes what a client sees calls :func:`notify` in its
own transaction. On PostgreSQL that is ``pg_notify('reel_tasks', '<task id> <status>')``,
which the server delivers at commit (never for a rolled-back change). The status lets a
``Prefer: wait`` request skip reading a task that is only running now. SQLite (the embedded mode, one
machine) has no notifications: there the hub polls ``tasks.updated_at`` briefly, once per
process, only while someone waits.

Listening: one :class:`TaskHub` per API process holds one listening connection (or the
poller) and wakes the coroutines waiting on a task (SSE streams, ``Prefer: wait``). A
thousand subscribers cost one connection, not a thousand polls, and no waiter holds a
database connection while it waits.

No lost wake-ups: a waiter reads the task and then waits, and the change it waits for may
be announced in between. So it takes :meth:`TaskHub.mark` *before* its read and passes it
to :meth:`TaskHub.wait`, which returns at once when the task was announced after the mark
(or when the listener reconnected since, and may have missed it).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import OrderedDict, defaultdict
from typing import TYPE_CHECKING

from sqlalchemy import event as sa_event
from sqlalchemy import select, text
from sqlalchemy.orm import Session, SessionTransaction

from reel_host.records.models import Task

if TYPE_CHECKING:
    from reel_host.runtime import Runtime

log = logging.getLogger("reel.push")

CHANNEL = "reel_tasks"
RECENT_CHANGES = 50_000  # tasks whose last announcement is remembered for waiters' marks
FORGET_UNWATCHED_S = 5.0  # the SQLite poller forgets a task nobody waited on for this long
UNHEARD_LOOK_S = 0.5  # while the listener is not listening (starting, reconnecting), waiters look this often


def notify(session: Session, task_id: str, status: str) -> None:
    """Tell every API process, at commit, that ``task_id`` changed and is now ``status``
    (PostgreSQL; a no-op on SQLite).

    The notes of one transaction go out in one statement just before it commits (a batch
    submit of a hundred tasks costs one ``pg_notify`` round trip, not a hundred); a
    rollback drops them, and PostgreSQL delivers none of a transaction that fails.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    session.connection()  # in the transaction whose end sends or drops the notes (begins one if none)
    notes: list[str] | None = session.info.get(_NOTES)
    if notes is None:
        notes = session.info[_NOTES] = []
        if not sa_event.contains(session, "before_commit", _send_notes):
            sa_event.listen(session, "before_commit", _send_notes)
            sa_event.listen(session, "after_transaction_end", _drop_notes)
    notes.append(f"{task_id} {status}")


_NOTES = "reel_push_notes"
_SEND_NOTES = text("SELECT pg_notify(:channel, note) FROM unnest(CAST(:notes AS text[])) WITH ORDINALITY "
                   "AS n(note, i) ORDER BY i")


def _send_notes(session: Session) -> None:
    notes = session.info.pop(_NOTES, None)
    if notes:
        session.execute(_SEND_NOTES, {"channel": CHANNEL, "notes": notes})


def _drop_notes(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # rolled back or closed: nothing was committed, nothing to tell
        session.info.pop(_NOTES, None)


class TaskHub:
    """Wakes the coroutines of this process that wait for a task to change."""

    def __init__(self, rt: Runtime, poll_s: float = 0.1) -> None:
        self.rt = rt
        self.poll_s = poll_s
        self._waiters: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = defaultdict(set)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.delivered = 0  # notifications received (tests and metrics read it)
        self._seq = 0  # announcements so far; a waiter's mark is a value of it
        # task → (seq, status) of its last announcement (status None: not said, or unknown)
        self._changed: OrderedDict[str, tuple[int, str | None]] = OrderedDict()
        self._resynced = 0  # seq at the listener's last (re)connect: anything may have changed before it
        self.listening = False  # True while notifications arrive (the SQLite poller always is)

    # -- waiting (in the event loop) --------------------------------------------------
    def mark(self) -> int:
        """Take before reading a task; pass to :meth:`wait` to catch a change in between."""
        self._ensure_started()
        with self._lock:
            return self._seq

    async def wait(self, task_id: str, timeout: float, since: int | None = None) -> bool:
        """Until ``task_id`` changes or ``timeout`` passes; True if it changed.

        With ``since`` (a :meth:`mark`), a change announced after that mark counts: the call
        returns at once.
        """
        self._ensure_started()
        if not self.listening:  # notifications may be missed now: look again soon instead
            timeout = min(timeout, UNHEARD_LOOK_S)
        event = asyncio.Event()
        entry = (asyncio.get_running_loop(), event)
        with self._lock:
            if since is not None and (self._changed.get(task_id, (0, None))[0] > since or self._resynced > since):
                return True
            self._waiters[task_id].add(entry)
        try:
            await asyncio.wait_for(event.wait(), timeout)
            return True
        except TimeoutError:
            return False
        finally:
            with self._lock:
                waiting = self._waiters.get(task_id)
                if waiting is not None:
                    waiting.discard(entry)
                    if not waiting:
                        del self._waiters[task_id]

    def announced_status(self, task_id: str) -> str | None:
        """The status the last announcement of ``task_id`` gave (None: none, or not said)."""
        with self._lock:
            return self._changed.get(task_id, (0, None))[1]

    def subscribers(self) -> int:
        with self._lock:
            return sum(len(w) for w in self._waiters.values())

    def _wake(self, task_id: str, status: str | None = None) -> None:
        self.delivered += 1
        with self._lock:
            self._seq += 1
            self._changed[task_id] = (self._seq, status)
            self._changed.move_to_end(task_id)
            if len(self._changed) > RECENT_CHANGES:
                self._changed.popitem(last=False)
            waiting = list(self._waiters.get(task_id, ()))
        for loop, event in waiting:
            loop.call_soon_threadsafe(event.set)

    # -- listening (one thread per process) --------------------------------------------
    def _ensure_started(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    target = self._listen if self.rt.engine.dialect.name == "postgresql" else self._poll
                    self._thread = threading.Thread(target=target, name="reel-push", daemon=True)
                    self._thread.start()

    def start(self) -> TaskHub:
        self._ensure_started()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _listen(self) -> None:
        import psycopg

        url = self.rt.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        while not self._stop.is_set():
            try:
                with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.listening = True
                    self._wake_all()  # changes made while we were not listening
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=1.0):
                            task_id, _, status = note.payload.partition(" ")
                            self._wake(task_id, status or None)
            except Exception as exc:  # database away: waiters look every UNHEARD_LOOK_S meanwhile
                self.listening = False
                log.warning("push listener: %s; reconnecting", exc)
                self._stop.wait(1.0)
        self.listening = False

    def _poll(self) -> None:
        self.listening = True  # the poller sees every change of a watched task within poll_s
        seen: dict[str, object] = {}  # task → updated_at last read
        last_watched: dict[str, float] = {}  # a waiter between two waits (reading) keeps its task here
        while not self._stop.wait(self.poll_s):
            with self._lock:
                watched = list(self._waiters)
            now = time.monotonic()
            last_watched.update(dict.fromkeys(watched, now))
            for task_id in [t for t, at in last_watched.items() if now - at > FORGET_UNWATCHED_S]:
                del last_watched[task_id]
                seen.pop(task_id, None)
            if not watched:
                continue
            try:
                with self.rt.sessions() as session:
                    rows = session.execute(select(Task.id, Task.updated_at).where(Task.id.in_(watched))).all()
            except Exception as exc:
                log.warning("push poller: %s", exc)
                continue
            for task_id, updated_at in rows:
                if seen.get(task_id) != updated_at:  # a first sighting too: it may have changed before
                    self._wake(task_id)
                seen[task_id] = updated_at

    def _wake_all(self) -> None:
        with self._lock:
            self._seq += 1
            self._resynced = self._seq
            self._changed.clear()  # statuses announced before may be stale now
            ids = list(self._waiters)
        for task_id in ids:
            self._wake(task_id)
