"""The Celery side of a worker: the ``reel.run`` task and per-process set-up.

Each pool child gets its device when it starts (``worker_process_init``): the children
take the worker's GPUs in turn (``child_device``), so ``--gpu 0,1 --concurrency 4`` runs
two children on each GPU. A child keeps one task runner per device it uses: its GPU for
what fits there, the CPU for generators the pool runs by CPU fallback. Everything a
child needs arrives as arguments (the worker's plan, ``preload``), not through the
environment.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from billiard.process import current_process
from celery import Celery
from celery.signals import worker_process_init

from reel_host.queue.celery_app import RUN_TASK, time_limit_for
from reel_host.runtime import Runtime
from reel_host.worker.execute import TaskRunner, run_message
from reel_host.worker.gpus import GpuInfo, child_device
from reel_host.worker.model_cache import ModelCache
from reel_host.worker.requests import make_request_class

log = logging.getLogger("reel.worker")

#: Without REEL_MODEL_CACHE_BYTES, a GPU's model cache may fill this share of its memory.
GPU_CACHE_SHARE = 0.8


def soft_limit_resolver(rt: Runtime) -> Callable[[str | None], float]:
    """generator name -> its soft time limit in seconds, from the plugins this worker carries."""

    def soft_limit_of(generator: str | None) -> float:
        gen = rt.registry.get(generator) if generator else None
        return time_limit_for(rt.settings, generator or "", gen.requirements.to_dict() if gen else None)

    return soft_limit_of


@dataclass
class ChildRunners:
    """The task runners of one worker process, one per device, made on first use."""

    rt: Runtime
    worker_id: str
    gpus: list[GpuInfo]
    cpu_generators: set[str] = field(default_factory=set)
    index: int = 0
    _runners: dict[str, TaskRunner] = field(default_factory=dict)

    @property
    def device(self) -> str:
        """This process's own device: its GPU, or the CPU on a CPU worker."""
        return child_device(self.index, self.gpus)

    def device_for(self, generator: str | None) -> str:
        return "cpu" if generator in self.cpu_generators else self.device

    def for_generator(self, generator: str | None) -> TaskRunner:
        device = self.device_for(generator)
        if device not in self._runners:
            runner = TaskRunner(self.rt, self.worker_id, device, soft_limit_resolver(self.rt),
                                cache=ModelCache(self.rt.settings.model_cache_size, self._cache_budget(device)))
            self._runners[device] = runner
        return self._runners[device]

    def preload(self, names: list[str]) -> None:
        """Load the default model of each generator in ``names`` on the device it runs on."""
        for device in sorted({self.device_for(n) for n in names}):
            self.for_generator(next(n for n in names if self.device_for(n) == device)).preload(
                [n for n in names if self.device_for(n) == device]
            )

    def _cache_budget(self, device: str) -> int | None:
        if self.rt.settings.model_cache_bytes:
            return int(self.rt.settings.model_cache_bytes)
        if device.startswith("cuda") and self.gpus:
            gpu = self.gpus[self.index % len(self.gpus)]
            return int(gpu.memory_total_mb * 2**20 * GPU_CACHE_SHARE)
        return None


def bind_worker_tasks(
    rt: Runtime,
    worker_id: str,
    gpus: list[GpuInfo],
    taken: list[str],
    *,
    cpu_generators: set[str] | None = None,
    preload: bool = False,
) -> Celery:
    """Register ``reel.run`` on the runtime's Celery app; the task function stays thin.

    Args:
        gpus: the worker's GPUs, in ``CUDA_VISIBLE_DEVICES`` order ([] on the CPU).
        taken: the generators this worker consumes (``preload`` loads only theirs).
        cpu_generators: those of ``taken`` that run on the CPU although the worker has GPUs.
        preload: load each taken generator's default model when a pool child starts.
    """
    app = rt.celery
    runners = ChildRunners(rt, worker_id, gpus, set(cpu_generators or ()))

    @app.task(
        name=RUN_TASK,
        bind=True,
        acks_late=True,
        reject_on_worker_lost=True,
        acks_on_timeout=True,
        Request=make_request_class(rt, worker_id, soft_limit_resolver(rt)),
    )
    def run(self, task_id: str, attempt: int, generator: str | None = None) -> str:  # type: ignore[no-untyped-def]
        return run_message(runners.for_generator(generator), task_id, int(attempt))

    @worker_process_init.connect(weak=False)
    def _child_start(**_kwargs) -> None:  # type: ignore[no-untyped-def]
        # a forked child must not share the parent's database connections
        rt.engine.dispose(close=False)
        runners.index = int(getattr(current_process(), "index", 0) or 0)
        log.info("pool child %d runs on %s", runners.index, runners.device)
        if preload:
            runners.preload(taken)

    return app
