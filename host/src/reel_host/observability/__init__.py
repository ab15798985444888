"""What operators see: Prometheus metrics, structured logs with correlation ids, limits' hooks.

- ``metrics``: every metric Reel exports and the one-line recording functions the rest
  of the host calls (``task_event``, ``model_cache_event``, ``callback_settled`` ...).
- ``collectors``: gauges computed at scrape time from the records (queue depth, workers,
  callback backlog) and, in a worker, from NVML (GPUs).
- ``multiproc``: prometheus-client's multiprocess mode for prefork pools and multi-process APIs.
- ``http``: the API's ``/metrics`` route and the request-id / HTTP-metrics middleware.
- ``logs``: structlog configuration (``REEL_LOG_FORMAT=json|console``) and the log context.
- ``celery``: the request id in Celery message headers and the task's log context in workers.
- ``exporter``: the ``--metrics-port`` endpoint of ``reel worker`` and ``reel callbacks``.
"""
