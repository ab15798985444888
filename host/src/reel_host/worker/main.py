"""Start a worker: check pins, probe GPUs, choose queues, heartbeat, run Celery."""

from __future__ import annotations

import importlib.util
import logging
import os
import socket
from dataclasses import dataclass, field
from typing import Any

from reel_host.queue.celery_app import queue_for, time_limit_for, visibility_timeout
from reel_host.runtime import Runtime
from reel_host.services.catalog import local_generators
from reel_host.worker.gpus import GpuInfo, Placement, place, probe_gpus

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
    gpu_indices: list[int] | None = None
    visibility_timeout_s: int | None = None
    cpu_fallback: bool = False

    @property
    def device_gpus(self) -> list[GpuInfo]:
        """The GPUs its pool children run on ([] when it runs everything on the CPU)."""
        return self.gpus if self.device.startswith("cuda") else []

    @property
    def cpu_generators(self) -> set[str]:
        """Generators it runs on the CPU although it has GPUs (CPU fallback)."""
        return {g["name"] for g in self.generators if g.get("runs_on") == "cpu"} if self.device_gpus else set()

    @property
    def queues(self) -> list[str]:
        return [queue_for(g["name"]) for g in self.generators]

    def summary(self) -> str:
        """What ``reel worker --dry-run`` prints."""
        devices = self.device
        if len(self.device_gpus) > 1:
            devices = f"cuda:0..cuda:{len(self.device_gpus) - 1}, one per pool child in turn"
        fallback = ", CPU fallback allowed" if self.cpu_fallback else ""
        lines = [f"worker {self.worker_id} (pool {self.pool}, device {devices}{fallback})", "plugins:"]
        lines += [f"  {p['name']:<14} {p['distribution'] or '?'} {p['version'] or '?'}" for p in self.plugins]
        lines.append("GPUs:" if self.gpus else "GPUs: none (CPU worker)")
        lines += [
            f"  [{g.index}] {g.name} {g.uuid}  {g.memory_free_mb}/{g.memory_total_mb} MiB free, "
            f"util {g.utilization_pct if g.utilization_pct is not None else '?'}%, "
            f"driver {g.driver_version}, CUDA {g.cuda_version}"
            for g in self.gpus
        ]
        lines.append(
            "queues:" if self.generators else "queues: none (no generator here can run on this hardware)"
        )
        lines += [
            f"  {queue_for(g['name']):<32} time limit {g['time_limit_s']:g}s"
            + ("  (on the CPU)" if g["name"] in self.cpu_generators else "")
            for g in self.generators
        ]
        if self.skipped:
            lines.append("skipped:")
            lines += [f"  {s['name']}: {s['reason']}" for s in self.skipped]
        if self.visibility_timeout_s:
            lines.append(f"broker visibility timeout: {self.visibility_timeout_s}s")
        return "\n".join(lines)

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
    return "cuda:0"  # CUDA_VISIBLE_DEVICES narrows the process to the worker's GPUs; child 0's


def plan_worker(
    rt: Runtime,
    gpu_indices: list[int] | None = None,
    exclude: set[str] | None = None,
    *,
    cpu_fallback: bool = False,
) -> WorkerPlan:
    """Load the pinned plugins (raising PluginError on a bad pin) and decide the queues.

    ``cpu_fallback``: take generators whose ``min_vram_gb`` exceeds the GPUs here (and that
    can run on the CPU) and run them on the CPU, instead of leaving them to other pools.

    Raises:
        PluginError: a pin cannot be satisfied.
        ValueError: a GPU index in ``gpu_indices`` does not exist.
    """
    registry = rt.registry
    gpus = probe_gpus(gpu_indices)
    if gpu_indices is not None:
        missing = sorted(set(gpu_indices) - {g.index for g in gpus})
        if missing:
            seen = [g.index for g in probe_gpus()]
            raise ValueError(
                f"no GPU with index {', '.join(map(str, missing))}; NVML sees "
                + (", ".join(map(str, seen)) if seen else "no GPU")
            )
    pool = rt.settings.worker_pool
    worker_id = f"{pool}@{socket.gethostname()}.{os.getpid()}"
    generators, skipped = [], []
    for name, info in sorted(local_generators(rt).items()):
        if name in (exclude or set()):
            placement = Placement(None, "excluded by the pool's configuration")
        else:
            placement = place(info.requirements, gpus, cpu_fallback=cpu_fallback)
        if placement.runs_on is None:
            log.warning("not taking %s: %s", name, placement.reason)
            skipped.append({"name": name, "reason": placement.reason})
        else:
            if placement.reason:
                log.warning("taking %s: %s", name, placement.reason)
            limit = time_limit_for(rt.settings, name, info.requirements)
            generators.append({**info.to_dict(), "time_limit_s": limit, "runs_on": placement.runs_on})
    plugins = [p.to_dict() for p in registry.plugins]
    visibility = (
        None
        if rt.settings.embedded_broker
        else visibility_timeout(rt.settings, [g["time_limit_s"] for g in generators])
    )
    return WorkerPlan(
        worker_id,
        pool,
        pick_device(gpus),
        plugins,
        gpus,
        generators,
        skipped,
        gpu_indices=gpu_indices,
        visibility_timeout_s=visibility,
        cpu_fallback=cpu_fallback,
    )


def run_worker(
    rt: Runtime, plan: WorkerPlan, *, concurrency: int = 1, loglevel: str = "INFO", preload: bool = False
) -> None:
    """Run the Celery worker in this process until it is stopped (``preload``: default models first)."""
    from celery.signals import worker_ready

    from reel_host import forksafe
    from reel_host.worker.app import bind_worker_tasks
    from reel_host.worker.heartbeat import Heartbeat
    from reel_host.worker.watchdog import CancelWatchdog

    if plan.device_gpus:
        # for CUDA itself (the pool children inherit it): UUIDs, not indices, since CUDA's
        # device order need not be NVML's; cuda:N is then plan.gpus[N]
        os.environ.setdefault("CUDA_VISIBLE_DEVICES", ",".join(g.uuid for g in plan.device_gpus))
    app = bind_worker_tasks(rt, plan.worker_id, plan.device_gpus, [g["name"] for g in plan.generators],
                            cpu_generators=plan.cpu_generators, preload=preload)
    if rt.settings.embedded_broker:
        app.conf.worker_enable_remote_control = False
    elif plan.visibility_timeout_s:  # longer than the longest time limit of what this worker takes
        app.conf.broker_transport_options = {
            **app.conf.broker_transport_options,
            "visibility_timeout": plan.visibility_timeout_s,
        }
    forksafe.install()  # pool children are forked while the threads below work: see reel_host.forksafe
    heartbeat = Heartbeat(rt, plan.worker_id, plan.advert(), plan.gpu_indices)
    heartbeat.start()
    watchdog = CancelWatchdog(rt, plan.worker_id)
    watchdog.start()
    worker_ready.connect(lambda **_: heartbeat.mark_ready(), weak=False)
    queues = plan.queues or ["reel.idle"]
    try:
        app.worker_main(
            [
                "worker",
                "-Q",
                ",".join(queues),
                "-n",
                plan.worker_id.replace("@", ".", 1) + "@" + socket.gethostname(),
                "-c",
                str(concurrency),
                "-P",
                "prefork",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-l",
                loglevel,
                # task events for Flower / `celery events` (the embedded transport has no fanout for them)
                *(["-E"] if rt.settings.task_events and not rt.settings.embedded_broker else []),
            ]
        )
    finally:
        watchdog.stop()
        heartbeat.stop()
