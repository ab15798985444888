"""The task lifecycle: the one owner of task, attempt and worker-run state.

::

    submit ─▶ queued ──claim──▶ running ──succeed──▶ succeeded
               ▲ │ ▲              │ │ │
               │ │ │              │ │ └─fail────────▶ failed ──┐
               │ │ │              │ └─retry_later──▶ queued (attempt + 1, due later)
               │ │ └──lost run────┘  (child died: same attempt; worker lost: attempt + 1;
               │ │                    past REEL_WORKER_LOST_MAX: failed worker_lost_repeatedly)
               │ └──cancel──▶ cancelled ◀──cancel── running
               └──retry (attempt + 1) ── failed | cancelled

Every write is a named transition here, fenced by (task id, attempt, expected status)
through :func:`reel_host.lifecycle.fence.fenced_update`, so a superseded, cancelled or
late run can never overwrite the truth. Transitions record their events in the same
transaction by calling the callbacks outbox, and hand queued attempts to the broker
through the dispatch outbox (:mod:`reel_host.lifecycle.dispatch`): the record says what
must run, the broker only carries it, and the reconciler re-sends whatever the broker lost.

Modules: ``status`` (the enum), ``fence`` (fenced updates, database time, the soft-limit
shield), ``tasks`` (submit, cancel, retry: the API's transitions), ``runs`` (claim,
progress, succeed, fail, retry later: a run's transitions), ``lost`` (runs that died:
a pool child, a whole worker, a hard time limit), ``dispatch`` (publish and reconcile),
``workers`` (a worker's own row: heartbeat, current task, stop).
"""

from reel_host.lifecycle.status import FINISHED, TaskStatus

__all__ = ["FINISHED", "TaskStatus"]
