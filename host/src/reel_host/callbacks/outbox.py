"""The event sink: records deliveries in the state change's own transaction.

Progress is throttled and coalesced here: a task's pending, untried ``progress``
delivery is overwritten by the next one, and a new one is due no sooner than
``REEL_CALLBACK_PROGRESS_INTERVAL_S`` after the previous one was recorded.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from sqlalchemy import event as sa_event
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from reel_host.callbacks.targets import destination_of
from reel_host.records.db import rowcount
from reel_host.records.models import CallbackDelivery, CallbackSettings, utcnow
from reel_host.services.catalog import WorkerView

if TYPE_CHECKING:
    from reel_host.records.models import Task
    from reel_host.runtime import Runtime

log = logging.getLogger("reel.callbacks")

DELIVER_TASK = "reel.callbacks.deliver"
WEBHOOK, CMS = "webhook", "cms"
KINDS = (WEBHOOK, CMS)
CMS_EVENTS = ("queued", "started", "progress", "succeeded", "failed", "cancelled")
_VIEW = WorkerView()


def record_event(session: Session, rt: Runtime, task: Task, event: str) -> None:
    """The sink registered on task events: one outbox row per destination that wants ``event``."""
    targets = _targets(session, task, event)
    if not targets:
        return
    payload = snapshot(session, rt, task, event)
    now = utcnow()
    due_at = min(_record(session, rt, task, event, kind, url, payload, now) for kind, url in targets)
    _kick_after_commit(session, rt, task.id, max(0.0, (due_at - now).total_seconds()))


def _targets(session: Session, task: Task, event: str) -> list[tuple[str, str]]:
    out = []
    callback = task.callback or {}
    if callback.get("url") and event in callback.get("events", ()) and not _gone(session, task.id):
        out.append((WEBHOOK, str(callback["url"])))
    if task.cms and event in CMS_EVENTS:
        cfg = session.get(CallbackSettings, task.project_id)
        if cfg is not None and cfg.payload_url:
            doc_id = quote(str(task.cms["id"]), safe="")
            doc = f"{cfg.payload_url.rstrip('/')}/api/{task.cms['collection']}/{doc_id}"
            out.append((CMS, doc))
        else:
            log.warning(
                "task %s names a CMS document but project %s has no Payload settings",
                task.id,
                task.project_id,
            )
    return out


def _gone(session: Session, task_id: str) -> bool:
    """A 410 from the task's webhook receiver stops its callbacks for good."""
    return (
        session.scalar(
            select(func.count())
            .select_from(CallbackDelivery)
            .where(
                CallbackDelivery.task_id == task_id,
                CallbackDelivery.kind == WEBHOOK,
                CallbackDelivery.status == "gone",
            )
        )
        != 0
    )


def snapshot(session: Session, rt: Runtime, task: Task, event: str) -> dict[str, Any]:
    """The task as the status endpoint shows it; output URLs are signed afresh at each send."""
    from reel_host.services.views import to_public

    data = to_public(session, rt, _VIEW, task).model_dump(mode="json")
    keys = {o.name: o.storage_key for o in task.outputs}
    for output in data["outputs"]:
        output["url"] = None
        output["key"] = keys.get(output["name"])
    return {"type": f"task.{event}", "timestamp": utcnow().isoformat().replace("+00:00", "Z"), "data": data}


def _record(
    session: Session,
    rt: Runtime,
    task: Task,
    event: str,
    kind: str,
    url: str,
    payload: dict[str, Any],
    now: datetime,
) -> datetime:
    """Add (or, for progress, coalesce into) the delivery; return when it is due."""
    D = CallbackDelivery
    due = now
    if event == "progress":
        last = session.scalars(
            select(D).where(D.task_id == task.id, D.kind == kind).order_by(D.id.desc()).limit(1)
        ).first()
        if (
            last is not None
            and last.event == "progress"
            and last.status == "pending"
            and last.attempts == 0
            and (last.claimed_until is None or last.claimed_until < now)
        ):
            # conditional, so a sender that claims the row meanwhile never sends a stale payload
            # while the record says the newer one went out
            coalesced = session.execute(
                update(D)
                .where(D.id == last.id, D.status == "pending", D.attempts == 0, D.claimed_until.is_(None))
                .values(payload=payload, updated_at=now)
            )
            if rowcount(coalesced):
                return last.next_attempt_at
        # older progress that failed to go out is stale now: the new one carries the latest state
        session.execute(
            update(D)
            .where(
                D.task_id == task.id,
                D.kind == kind,
                D.event == "progress",
                D.status == "pending",
                or_(D.claimed_until.is_(None), D.claimed_until < now),
            )
            .values(status="superseded", updated_at=now, claimed_until=None)
        )
        # spaced from when the previous progress was due to go out, not from when it was recorded
        previous = session.scalar(
            select(func.max(D.next_attempt_at)).where(
                D.task_id == task.id, D.kind == kind, D.event == "progress", D.status != "superseded"
            )
        )
        interval = timedelta(seconds=rt.settings.callback_progress_interval_s)
        if previous is not None and previous + interval > now:
            due = previous + interval
    session.add(
        D(
            task_id=task.id,
            project_id=task.project_id,
            kind=kind,
            event=event,
            url=url,
            destination=destination_of(url),
            payload=payload,
            status="pending",
            attempts=0,
            next_attempt_at=due,
            state={},
            created_at=now,
            updated_at=now,
        )
    )
    session.flush()
    return due


# -- kick the sender once the transaction has committed ---------------------------------


def _kick_after_commit(session: Session, rt: Runtime, task_id: str, delay_s: float) -> None:
    kicks: dict[str, float] | None = session.info.get("reel_callback_kicks")
    if kicks is None:
        kicks = session.info["reel_callback_kicks"] = {}
        session.info["reel_callback_rt"] = rt
        sa_event.listen(session, "after_commit", _send_kicks)
        sa_event.listen(session, "after_rollback", _drop_kicks)
    kicks[task_id] = min(delay_s, kicks.get(task_id, delay_s))


def _send_kicks(session: Session) -> None:
    kicks: dict[str, float] = session.info.get("reel_callback_kicks", {})
    pending, rt = dict(kicks), session.info.get("reel_callback_rt")
    kicks.clear()
    for task_id, delay in pending.items():
        kick(rt, task_id, delay)


def _drop_kicks(session: Session) -> None:
    session.info.get("reel_callback_kicks", {}).clear()


def kick(rt: Runtime | None, task_id: str, delay_s: float = 0.0) -> None:
    """Ask ``reel callbacks`` to send the task's due deliveries (the sweep covers a lost kick)."""
    if rt is None or delay_s > 60:  # far-off deliveries are found by the sweep
        return
    from reel_host.queue.celery_app import CALLBACK_QUEUE

    try:
        rt.celery.send_task(
            DELIVER_TASK, args=[task_id], queue=CALLBACK_QUEUE, countdown=delay_s if delay_s > 0.01 else None
        )
    except Exception as exc:  # the broker is down: the sweep will find the rows
        log.warning("could not kick the callback sender for %s: %s", task_id, exc)
