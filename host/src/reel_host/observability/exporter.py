"""``--metrics-port``: the Prometheus endpoint of ``reel worker`` and ``reel callbacks``.

Served by the group's main process (prometheus-client's own HTTP server, a daemon
thread) from a private multiprocess directory its pool children inherit, so what a
child counted survives the child. A worker adds its GPUs, read from NVML per scrape.
The endpoint has no auth: bind it to a private network (``REEL_METRICS_ADDR``).
"""

from __future__ import annotations

import atexit
import logging
import os
from pathlib import Path

from reel_host.observability import multiproc

log = logging.getLogger("reel.metrics")


def start(port: int, addr: str = "0.0.0.0", *, worker_id: str | None = None,
          gpu_indices: list[int] | None = None) -> Path:
    """Switch the group to multiprocess mode and serve its metrics on ``addr:port``; return the directory."""
    path = multiproc.enable()
    owner = os.getpid()

    def _cleanup() -> None:  # the group's main process only: forked children inherit atexit
        if os.getpid() == owner:
            multiproc.remove(path)

    atexit.register(_cleanup)
    from prometheus_client import CollectorRegistry, start_http_server

    registry = CollectorRegistry(auto_describe=False)
    registry.register(multiproc.MultiProcessSource(path))  # type: ignore[arg-type]
    if worker_id is not None:
        from reel_host.observability.collectors import GpuCollector

        registry.register(GpuCollector(worker_id, gpu_indices))
    start_http_server(port, addr=addr, registry=registry)
    log.info("metrics on http://%s:%s/metrics", addr, port)
    return path
