"""Start a worker: check pins, probe GPUs, choose queues, heartbeat, run Celery."""

from __future__ import annotations

import importlib.util
import logging
import os
import socket
from dataclasses import dataclass, field
from typing import Any

from reel_host.queue.celery_app import queue_for
from reel_host.runtime import Runtime
from reel_host.services.catalog import local_generators
from reel_host.worker.gpus import GpuInfo, probe_gpus, unmet_requirement

log = logging.getLogger("reel.worker")


@dataclass
class WorkerPlan:
    """What a worker would take: the answer of ``reel worker --dry-run``."""

    worker_id: str
    pool: str
    device: str
    plugins: list[dict[str, Any]]
    gpus: list[GpuInfo]
    generators: list[dict[str, Any]]
    skipped: list[dict[str, Any]] = field(default_factory=list)

    @property
    def queues(self) -> list[str]:
        return [queue_for(g["name"]) for g in self.generators]

    def advert(self) -> dict[str, Any]:
        return {
            "pool": self.pool,
            "plugins": self.plugins,
            "generators": self.generators,
            "skipped": self.skipped,
            "gpus": [g.to_dict() for g in self.gpus],
            "queues": self.queues,
        }


def pick_device(gpus: list[GpuInfo]) -> str:
    if not gpus or importlib.util.find_spec("torch") is None:
        return "cpu"
    return "cuda:0"  # CUDA_VISIBLE_DEVICES narrows the process to the worker's GPUs


def plan_worker(rt: Runtime, gpu_indices: list[int] | None = None) -> WorkerPlan:
    """Load the pinned plugins (raising PluginError on a bad pin) and decide the queues."""
    registry = rt.registry
    gpus = probe_gpus(gpu_indices)
    pool = rt.settings.worker_pool
    worker_id = f"{pool}@{socket.gethostname()}.{os.getpid()}"
    generators, skipped = [], []
    for name, info in sorted(local_generators(rt).items()):
        reason = unmet_requirement(info.requirements, gpus)
        if reason:
            log.warning("not taking %s: %s", name, reason)
            skipped.append({"name": name, "reason": reason})
        else:
            generators.append(info.to_dict())
    plugins = [p.to_dict() for p in registry.plugins]
    return WorkerPlan(worker_id, pool, pick_device(gpus), plugins, gpus, generators, skipped)


def run_worker(rt: Runtime, plan: WorkerPlan, *, concurrency: int = 1, loglevel: str = "INFO") -> None:
    """Run the Celery worker in this process until it is stopped."""
    from celery.signals import worker_ready

    from reel_host.worker.app import bind_worker_tasks
    from reel_host.worker.heartbeat import Heartbeat

    os.environ["REEL_WORKER_ID"] = plan.worker_id
    if plan.gpus and plan.device.startswith("cuda"):
        os.environ.setdefault("CUDA_VISIBLE_DEVICES", ",".join(str(g.index) for g in plan.gpus))
    app = bind_worker_tasks(rt, plan.worker_id, plan.device)
    if rt.settings.embedded_broker:
        app.conf.worker_enable_remote_control = False
    heartbeat = Heartbeat(rt, plan.worker_id, plan.advert())
    heartbeat.start()
    worker_ready.connect(lambda **_: heartbeat.mark_ready(), weak=False)
    queues = plan.queues or ["reel.idle"]
    try:
        app.worker_main([
            "worker", "-Q", ",".join(queues), "-n", plan.worker_id.replace("@", ".", 1) + "@" + socket.gethostname(),
            "-c", str(concurrency), "-P", "prefork", "--without-gossip", "--without-mingle", "--without-heartbeat",
            "-l", loglevel,
        ])
    finally:
        heartbeat.stop()
