"""Every metric Reel exports, and the functions the host calls to record them.

Names follow Prometheus conventions (``_total``, ``_seconds``, ``_bytes``, base units) and
labels are bounded sets (generator, status, queue, pool, kind, outcome, route template):
never a task id. Counters and histograms are recorded where things happen (API process,
worker pool child, callback sender) and, with ``PROMETHEUS_MULTIPROC_DIR`` set, land in
per-process files that the process group's exporter sums (see ``multiproc``). State gauges
(queue depth, workers...) are not here: ``collectors`` computes them from the records.

Recording never raises: a metric must not break a task's state change.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

log = logging.getLogger("reel.metrics")

FINISHED = ("succeeded", "failed", "cancelled")
# from a fraction of a second (echo, TTS) to hours (long video runs)
DURATION_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 18000)
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

TASKS_SUBMITTED = Counter("reel_tasks_submitted_total", "Tasks submitted (first attempt recorded)", ["generator"])
TASKS_RETRIED = Counter(
    "reel_tasks_requeued_total", "Tasks queued again: client retry, automatic retry, lost worker", ["generator"])
TASKS_STARTED = Counter("reel_tasks_started_total", "Task runs started on a worker", ["generator"])
TASKS_FINISHED = Counter(
    "reel_tasks_finished_total", "Tasks that reached a final status", ["generator", "status"])
TASK_RUN = Histogram(
    "reel_task_run_seconds", "Run time of finished runs (started to succeeded or failed)", ["generator"],
    buckets=DURATION_BUCKETS)
TASK_QUEUE_WAIT = Histogram(
    "reel_task_queue_wait_seconds", "Time from queued (or due) to started", ["generator"],
    buckets=DURATION_BUCKETS)

MODEL_CACHE_HITS = Counter("reel_model_cache_hits_total", "Model cache lookups served from memory", ["generator"])
MODEL_CACHE_MISSES = Counter("reel_model_cache_misses_total", "Model cache lookups that loaded a model", ["generator"])
MODEL_CACHE_EVICTIONS = Counter(
    "reel_model_cache_evictions_total", "Models dropped from the cache (LRU or after out-of-memory)", ["generator"])
MODEL_CACHE_LOADED_BYTES = Gauge(
    "reel_model_cache_loaded_bytes", "Bytes of the models a worker holds loaded (tensors or CUDA allocation)",
    ["generator"],
    multiprocess_mode="livesum")

CALLBACK_DELIVERIES = Counter(
    "reel_callback_deliveries_total", "Callback delivery attempts by outcome", ["kind", "outcome"])

HTTP_REQUESTS = Counter(
    "reel_http_requests_total", "HTTP requests answered", ["route", "method", "status"])
HTTP_DURATION = Histogram(
    "reel_http_request_duration_seconds", "HTTP request latency (until the response starts)",
    ["route", "method"], buckets=HTTP_BUCKETS)
SSE_OPEN = Gauge(
    "reel_sse_connections_open", "Server-Sent Events streams open now", ["route"], multiprocess_mode="livesum")


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max(0.0, (end - start).total_seconds())


def task_event(task: Any, event: str) -> None:
    """Record a task's state change (called where every task event is emitted).

    ``task`` already shows its new state. ``queued`` with attempts 1 is a submit, a
    later ``queued`` a re-queue (client retry, automatic retry, lost worker);
    ``started`` observes the queue wait; a final status counts the task finished
    and, when it ran, observes the run time.
    """
    try:
        generator = str(task.generator)
        if event == "queued":
            (TASKS_SUBMITTED if task.attempts == 1 else TASKS_RETRIED).labels(generator).inc()
        elif event == "started":
            TASKS_STARTED.labels(generator).inc()
            wait = _seconds(task.queued_at, task.started_at)
            if wait is not None:
                TASK_QUEUE_WAIT.labels(generator).observe(wait)
        elif event in FINISHED:
            TASKS_FINISHED.labels(generator, event).inc()
            run = _seconds(task.started_at, task.finished_at)
            if run is not None and event != "cancelled":
                TASK_RUN.labels(generator).observe(run)
    except Exception:  # never break the state change
        log.exception("recording metrics of %s failed", event)


def model_cache_event(kind: str, generator: str) -> None:
    """``kind``: hit, miss or eviction."""
    metric = {"hit": MODEL_CACHE_HITS, "miss": MODEL_CACHE_MISSES, "eviction": MODEL_CACHE_EVICTIONS}[kind]
    metric.labels(generator).inc()


def model_cache_loaded(sizes: dict[str, int]) -> None:
    """Set the loaded bytes per generator (the whole cache's content, after each change)."""
    for generator, size in sizes.items():
        MODEL_CACHE_LOADED_BYTES.labels(generator).set(size)


def callback_settled(kind: str, outcome: str) -> None:
    """One delivery attempt ended: delivered, retry, gone or refused."""
    CALLBACK_DELIVERIES.labels(kind, outcome).inc()


def http_request(route: str, method: str, status: int, seconds: float) -> None:
    HTTP_REQUESTS.labels(route, method, str(status)).inc()
    HTTP_DURATION.labels(route, method).observe(seconds)


def sse_opened(route: str, delta: int) -> None:
    SSE_OPEN.labels(route).inc(delta)
