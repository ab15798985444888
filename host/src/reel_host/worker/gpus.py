"""GPU probing with NVML (nvidia-ml-py); no NVML or no GPU means a CPU worker."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import asdict, dataclass
from typing import Any

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
    temperature_c: int | None = None

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
            try:
                temp: int | None = int(pynvml.nvmlDeviceGetTemperature(handle, pynvml.NVML_TEMPERATURE_GPU))
            except Exception:
                temp = None
            gpus.append(GpuInfo(
                index=i, name=_text(pynvml.nvmlDeviceGetName(handle)), uuid=_text(pynvml.nvmlDeviceGetUUID(handle)),
                memory_total_mb=int(mem.total) // 2**20, memory_free_mb=int(mem.free) // 2**20,
                utilization_pct=util, driver_version=driver, cuda_version=cuda_version,
                temperature_c=temp,
            ))
        return gpus
    finally:
        with contextlib.suppress(Exception):
            pynvml.nvmlShutdown()


def unmet_requirement(requirements: dict[str, Any], gpus: list[GpuInfo]) -> str | None:
    """Why this hardware cannot run a generator with ``requirements``, or None if it can."""
    need_gpu = bool(requirements.get("gpu"))
    min_vram = float(requirements.get("min_vram_gb") or 0)
    if need_gpu and not gpus:
        return "needs a GPU; this worker has none"
    if gpus and min_vram and need_gpu:
        best = max(g.memory_total_gb for g in gpus)
        if best < min_vram:
            return f"needs {min_vram:g} GB of GPU memory; the largest GPU here has {best:.1f} GB"
    return None
