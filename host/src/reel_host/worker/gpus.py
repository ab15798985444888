"""GPU probing with NVML (nvidia-ml-py); no NVML or no GPU means a CPU worker."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import asdict, dataclass
from typing import Any, Literal

log = logging.getLogger("reel.worker.gpus")


@dataclass
class GpuInfo:
    index: int
    name: str
    uuid: str
    memory_total_mb: int
    memory_free_mb: int
    utilization_pct: int | None
    driver_version: str | None
    cuda_version: str | None

    @property
    def memory_total_gb(self) -> float:
        return self.memory_total_mb / 1024

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def probe_gpus(indices: list[int] | None = None) -> list[GpuInfo]:
    """The GPUs NVML sees (only ``indices`` if given); [] when NVML is unavailable."""
    try:
        import pynvml
    except ImportError:
        return []
    try:
        pynvml.nvmlInit()
    except Exception as exc:  # no driver: a CPU machine
        log.info("no NVML (%s): CPU worker", exc)
        return []
    try:
        driver = _text(pynvml.nvmlSystemGetDriverVersion())
        try:
            cuda = pynvml.nvmlSystemGetCudaDriverVersion()
            cuda_version: str | None = f"{cuda // 1000}.{(cuda % 1000) // 10}"
        except Exception:
            cuda_version = None
        gpus = []
        for i in range(pynvml.nvmlDeviceGetCount()):
            if indices is not None and i not in indices:
                continue
            handle = pynvml.nvmlDeviceGetHandleByIndex(i)
            mem = pynvml.nvmlDeviceGetMemoryInfo(handle)
            try:
                util: int | None = int(pynvml.nvmlDeviceGetUtilizationRates(handle).gpu)
            except Exception:
                util = None
            gpus.append(GpuInfo(
                index=i, name=_text(pynvml.nvmlDeviceGetName(handle)), uuid=_text(pynvml.nvmlDeviceGetUUID(handle)),
                memory_total_mb=int(mem.total) // 2**20, memory_free_mb=int(mem.free) // 2**20,
                utilization_pct=util, driver_version=driver, cuda_version=cuda_version,
            ))
        return gpus
    finally:
        with contextlib.suppress(Exception):
            pynvml.nvmlShutdown()


@dataclass(frozen=True)
class Placement:
    """Where a worker runs a generator: ``runs_on`` "gpu" or "cpu", or None (not taken, ``reason`` says why)."""

    runs_on: Literal["gpu", "cpu"] | None
    reason: str | None = None


def place(requirements: dict[str, Any], gpus: list[GpuInfo], *, cpu_fallback: bool = False) -> Placement:
    """Decide whether, and on what, a worker with ``gpus`` runs a generator with ``requirements``.

    - ``min_vram_gb`` must fit the *smallest* of the worker's GPUs, whether or not the
      generator sets ``gpu``: the worker's pool children are spread over all of its GPUs,
      and any of them may take the task.
    - A GPU worker whose GPUs are too small does not take the generator, unless its pool
      allows CPU fallback and the generator can run on the CPU (``gpu=False``).
    - A CPU worker (no GPU) runs every generator that can run on the CPU (``gpu=False``).
    """
    need_gpu = bool(requirements.get("gpu"))
    min_vram = float(requirements.get("min_vram_gb") or 0)
    if not gpus:
        return Placement(None, "needs a GPU; this worker has none") if need_gpu else Placement("cpu")
    smallest = min(g.memory_total_gb for g in gpus)
    if min_vram and smallest < min_vram:
        what = "the GPU here has" if len(gpus) == 1 else "the smallest GPU here has"
        too_small = f"needs {min_vram:g} GB of GPU memory; {what} {smallest:.1f} GB"
        if need_gpu:
            return Placement(None, too_small)
        if cpu_fallback:
            return Placement("cpu", f"{too_small}: runs on the CPU (the pool allows CPU fallback)")
        return Placement(None, f"{too_small} (a pool with cpu_fallback = true would run it on the CPU)")
    return Placement("gpu")


def unmet_requirement(requirements: dict[str, Any], gpus: list[GpuInfo], *, cpu_fallback: bool = False) -> str | None:
    """Why this hardware cannot run a generator with ``requirements``, or None if it can."""
    placement = place(requirements, gpus, cpu_fallback=cpu_fallback)
    return placement.reason if placement.runs_on is None else None


def child_device(index: int, gpus: list[GpuInfo]) -> str:
    """The device of pool child ``index``: the children take the worker's GPUs in turn.

    ``cuda:N`` counts within ``CUDA_VISIBLE_DEVICES``, which the worker sets to its own GPUs
    (by UUID, in the order given), so child ``index`` gets the GPU ``gpus[index % len(gpus)]``.
    """
    return f"cuda:{index % len(gpus)}" if gpus else "cpu"
