"""Sending the outbox: a task's deliveries go out in order, one attempt at a time.

A delivery is claimed (``claimed_until``, a lease) before its request, so two
senders never send it at once and a sender that dies mid-request only delays it.
Outcomes: 2xx delivered; webhook 410 stops the task's webhooks for good; anything
else is retried on ``REEL_CALLBACK_SCHEDULE_S`` with jitter, then fails.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
from reel_sdk.net import guarded_client
from sqlalchemy import func, or_, select, update

from reel_host import __version__
from reel_host.callbacks import breaker, payload, signing
from reel_host.callbacks.outbox import CMS, KINDS, WEBHOOK, kick
from reel_host.callbacks.targets import DestinationRefused, check_destination
from reel_host.observability import callbacks as observe
from reel_host.records.db import rowcount
from reel_host.records.models import CallbackAttempt, CallbackDelivery, CallbackSettings, utcnow

if TYPE_CHECKING:
    from reel_host.runtime import Runtime

log = logging.getLogger("reel.callbacks")
D = CallbackDelivery
_client_lock = threading.Lock()
_clients: dict[tuple[float, bool], httpx.Client] = {}


def http_client(timeout_s: float, allow_private: bool = False) -> httpx.Client:
    """One pooled client per process and policy (thread-safe), SSRF-guarded: each connection goes to
    the address that was checked (``reel_sdk.net``); redirects are never followed."""
    with _client_lock:
        if (timeout_s, allow_private) not in _clients:
            _clients[(timeout_s, allow_private)] = guarded_client(
                allow_private=allow_private,
                timeout=timeout_s,
                follow_redirects=False,
                headers={"User-Agent": f"Reel-Webhooks/{__version__}"},
            )
        return _clients[(timeout_s, allow_private)]


@dataclass
class Result:
    outcome: str  # delivered | retry | gone | refused
    status_code: int | None = None
    error: str | None = None
    unhealthy: bool = False  # counts against the destination's circuit breaker


def deliver_task(rt: Runtime, task_id: str) -> int:
    """Send the task's due deliveries, each kind in order; return how many were delivered."""
    sent = 0
    for kind in KINDS:
        while True:
            step = _deliver_head(rt, task_id, kind)
            if step == "delivered":
                sent += 1
                continue
            if step == "next":
                continue
            break
    return sent


def _deliver_head(rt: Runtime, task_id: str, kind: str) -> str:
    s = rt.settings
    with rt.sessions() as session:
        head = session.scalars(
            select(D)
            .where(D.task_id == task_id, D.kind == kind, D.status == "pending")
            .order_by(D.id)
            .limit(1)
        ).first()
        now = utcnow()
        if head is None:
            return "done"
        if head.next_attempt_at > now or (head.claimed_until is not None and head.claimed_until > now):
            return "wait"
        if (
            kind == WEBHOOK
            and (head.state or {}).get("schedule_base") is None
            and _gone(session, task_id, head.id)
        ):
            # recorded while the 410 that stopped the task's webhooks was being settled
            head.status, head.last_error = "gone", "stopped: the receiver answered 410"
            session.commit()
            return "next"
        if head.event == "progress":  # at most one progress per interval, measured on the wire
            last = session.scalar(
                select(func.max(D.delivered_at)).where(
                    D.task_id == task_id, D.kind == kind, D.event == "progress", D.id < head.id
                )
            )
            spaced = last + timedelta(seconds=s.callback_progress_interval_s) if last else now
            if spaced > now:
                head.next_attempt_at = spaced
                session.commit()
                kick(rt, task_id, (spaced - now).total_seconds())
                return "wait"
        wait_until = breaker.admit(session, s, head.destination)
        if wait_until is not None:
            head.next_attempt_at = wait_until
            head.last_error = f"circuit open for {head.destination} until {wait_until.isoformat()}"
            session.commit()
            return "wait"
        claimed = session.execute(
            update(D)
            .where(
                D.id == head.id,
                D.status == "pending",
                or_(D.claimed_until.is_(None), D.claimed_until <= now),
            )
            .values(
                claimed_until=now + timedelta(seconds=s.callback_lease_s),
                attempts=D.attempts + 1,
                updated_at=now,
            )
        )
        session.commit()
        if rowcount(claimed) == 0:
            return "wait"
        session.refresh(head)
        observe.bind_delivery(head)  # webhook_id, task_id, project, request_id on every line below
        number, started, started_at = head.attempts, time.monotonic(), utcnow()
        try:
            result = _send_webhook(rt, session, head) if kind == WEBHOOK else _send_cms(rt, session, head)
        except Exception as exc:  # a bug must not leave the lease to expire silently
            log.exception("delivery %s failed unexpectedly", head.msg_id)
            result = Result("retry", error=f"{type(exc).__name__}: {exc}"[:1000])
        session.rollback()
        return _settle(rt, session, head, number, started_at, time.monotonic() - started, result)


def _gone(session: Any, task_id: str, before: int) -> bool:
    return (
        session.scalar(
            select(func.count())
            .select_from(D)
            .where(D.task_id == task_id, D.kind == WEBHOOK, D.status == "gone", D.id < before)
        )
        != 0
    )


def _settle(
    rt: Runtime,
    session: Any,
    head: CallbackDelivery,
    number: int,
    started_at: datetime,
    elapsed_s: float,
    result: Result,
) -> str:
    s, now = rt.settings, utcnow()
    observe.settled(head.kind, head.event, result.outcome, result.status_code, number)
    session.add(
        CallbackAttempt(
            delivery_id=head.id,
            number=number,
            started_at=started_at,
            duration_ms=int(elapsed_s * 1000),
            status_code=result.status_code,
            outcome=result.outcome,
            error=result.error,
        )
    )
    values: dict[str, Any] = {"claimed_until": None, "updated_at": now, "last_error": result.error}
    if result.outcome == "delivered":
        values.update(status="delivered", delivered_at=now)
        breaker.succeeded(session, head.destination)
    elif result.outcome == "gone":
        values.update(status="gone")
        session.execute(
            update(D)
            .where(D.task_id == head.task_id, D.kind == WEBHOOK, D.status == "pending", D.id != head.id)
            .values(status="gone", updated_at=now, last_error="stopped: the receiver answered 410")
        )
    elif result.outcome == "refused":
        values.update(status="failed")
    else:
        if result.unhealthy and breaker.failed(session, s, head.destination):
            log.warning("circuit breaker open for %s", head.destination)
        schedule = s.callback_schedule
        tried = number - int((head.state or {}).get("schedule_base", 0))
        if tried > len(schedule):
            values.update(status="failed")
        else:
            delay = schedule[tried - 1] * random.uniform(1 - s.callback_jitter, 1 + s.callback_jitter)
            values.update(next_attempt_at=now + timedelta(seconds=delay))
    session.execute(update(D).where(D.id == head.id).values(**values))
    session.commit()
    if result.outcome == "delivered":
        return "delivered"
    return "next" if values.get("status") in ("failed", "gone") else "wait"


def _render_outputs(
    rt: Runtime, outputs: list[dict[str, Any]], durable: bool, media: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    out = []
    uploaded = {m["name"]: m for m in media or []}
    for o in outputs:
        key = o.get("key")
        url = None
        if durable:
            url = (uploaded.get(o["name"]) or {}).get("url") or (rt.storage.durable_url(key) if key else None)
        if url is None and key:
            url = rt.storage.url(
                key, media_type=o["media_type"], filename=o["name"], ttl_s=rt.settings.signed_url_ttl_s
            )
        out.append({k: v for k, v in {**o, "url": url}.items() if k != "key"})
    return out


def _http_result(r: httpx.Response, *, kind: str) -> Result:
    code = r.status_code
    if 200 <= code < 300:
        return Result("delivered", code)
    snippet = r.text[:300].replace("\n", " ")
    if kind == WEBHOOK and code == 410:
        return Result("gone", code, "the receiver answered 410 Gone: no more callbacks for this task")
    if kind == CMS and code in (401, 403):
        return Result("retry", code, f"Payload refused the API key ({code}): check the Payload settings")
    if kind == CMS and code == 404:
        return Result("retry", code, "Payload answered 404: the document may not be committed yet")
    return Result("retry", code, f"HTTP {code}: {snippet}", unhealthy=code >= 500 or code == 429)


def _transport_error(exc: Exception) -> Result:
    return Result("retry", None, f"{type(exc).__name__}: {exc}"[:1000], unhealthy=True)


def _send_webhook(rt: Runtime, session: Any, d: CallbackDelivery) -> Result:
    try:
        check_destination(d.url, rt.settings.callback_allow_private)
    except DestinationRefused as exc:
        return Result("refused", None, str(exc))
    except OSError as exc:
        return _transport_error(exc)
    cfg = signing.callback_settings(session, d.project_id, rt.sealer)
    assert cfg is not None
    secrets_ = signing.active_secrets(cfg, rt.sealer)
    session.commit()  # keep a secret made just now; hold no transaction during the request
    body_obj = dict(d.payload)
    body_obj["data"] = {
        **body_obj["data"],
        "outputs": _render_outputs(rt, body_obj["data"]["outputs"], False),
    }
    body = json.dumps(body_obj, separators=(",", ":"))
    headers = {
        "content-type": "application/json",
        "reel-event": d.event,
        "reel-task-id": d.task_id,
        **observe.request_headers(d.state),
        **signing.signature_headers(d.msg_id, body, secrets_, utcnow()),
    }
    try:
        r = http_client(rt.settings.callback_timeout_s, rt.settings.callback_allow_private).post(
            d.url, content=body, headers=headers)
    except DestinationRefused as exc:  # the name now resolves somewhere it must not (rebinding)
        return Result("refused", None, str(exc))
    except (OSError, httpx.HTTPError) as exc:
        return _transport_error(exc)
    return _http_result(r, kind=WEBHOOK)


def _send_cms(rt: Runtime, session: Any, d: CallbackDelivery) -> Result:
    cfg = session.get(CallbackSettings, d.project_id)
    if cfg is None or not cfg.payload_url or not cfg.payload_api_key:
        return Result("refused", None, "the project's Payload settings were removed")
    base, slug, key = cfg.payload_url, cfg.payload_auth_slug or "users", rt.sealer.open(cfg.payload_api_key) or ""
    collection, fields = cfg.payload_upload_collection, dict(cfg.payload_fields or {})
    session.commit()
    headers = {**payload.auth_header(slug, key), **observe.request_headers(d.state)}
    client = http_client(rt.settings.callback_timeout_s, rt.settings.payload_allow_private)
    data = d.payload["data"]
    media: list[dict[str, Any]] | None = None
    try:
        if collection and data["status"] == "succeeded" and data["outputs"]:
            media = _upload_outputs(rt, session, d, client, base, collection, headers, data)
        outputs = _render_outputs(rt, data["outputs"], True, media)
        body = payload.document_body(
            data, outputs, [m["id"] for m in media] if media is not None else None, fields
        )
        r = client.patch(d.url, json=body, headers=headers, params={"depth": 0})
    except httpx.HTTPStatusError as exc:  # an upload was refused
        return _http_result(exc.response, kind=CMS)
    except DestinationRefused as exc:
        return Result("refused", None, f"Payload URL refused: {exc} (REEL_PAYLOAD_ALLOW_PRIVATE)")
    except (OSError, httpx.HTTPError) as exc:
        return _transport_error(exc)
    return _http_result(r, kind=CMS)


def _upload_outputs(
    rt: Runtime,
    session: Any,
    d: CallbackDelivery,
    client: httpx.Client,
    base: str,
    collection: str,
    headers: dict[str, str],
    data: dict[str, Any],
) -> list[dict[str, Any]]:
    """Upload each output once (kept on the delivery, so a retry never uploads twice)."""
    media: list[dict[str, Any]] = list((d.state or {}).get("media", []))
    done = {m["name"] for m in media}
    for o in data["outputs"]:
        if o["name"] in done or not o.get("key"):
            continue
        content = rt.storage.read_bytes(o["key"])
        doc = payload.upload(
            client,
            base,
            collection,
            headers,
            o["name"],
            o["media_type"],
            content,
            alt=f"{o['name']} ({data['generator']}, task {data['id']})",
        )
        media.append({"name": o["name"], **doc})
        session.execute(update(D).where(D.id == d.id).values(state={**(d.state or {}), "media": media}))
        session.commit()
    return media
