"""Callbacks: signed webhooks and PayloadCMS updates, sent from a durable outbox.

    lifecycle transition ──(same transaction)──▶ outbox.record_event ──▶ callback_deliveries rows
                                              │ after commit: a kick on queue reel.callbacks
                                              ▼
    `reel callbacks` (Celery, threads) ──▶ delivery.deliver_task ──▶ webhook POST | Payload PATCH
         └─ sweeper thread: finds due rows on start and every REEL_CALLBACK_SWEEP_S

Modules: ``targets`` (where a delivery may go: SSRF guard, submit checks), ``outbox``
(the event sink: records, coalesces and throttles), ``signing`` (Standard Webhooks
signatures and per-project secrets), ``payload`` (the PayloadCMS field mapping and
uploads), ``breaker`` (per-destination circuit breakers), ``delivery`` (one attempt
and its outcome), ``sender`` (the Celery task and the sweeper), ``service`` (what
the REST API reads and changes).
"""

from __future__ import annotations
