"""GPUs for workers on a machine without one: NVML faked at its boundary.

A worker subprocess gets ``tests/fixtures/fake_nvml`` first on its PYTHONPATH, so
``import pynvml`` finds the fake, which reads the JSON file named by REEL_FAKE_NVML.
The host's own code is unchanged: it makes the same pynvml calls as on a real GPU.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

FAKE_NVML_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "fake_nvml"

L4 = {
    "name": "NVIDIA L4",
    "uuid": "GPU-1b0c3a5e-0000-4000-8000-00000000a004",
    "memory_total_mb": 23034,
    "memory_free_mb": 22500,
    "utilization_pct": 0,
}
A4000 = {
    "name": "NVIDIA RTX A4000",
    "uuid": "GPU-6c2f8e11-0000-4000-8000-0000000a4000",
    "memory_total_mb": 16376,
    "memory_free_mb": 16000,
    "utilization_pct": 2,
}
L40S = {
    "name": "NVIDIA L40S",
    "uuid": "GPU-9d4e7a20-0000-4000-8000-0000000140e5",
    "memory_total_mb": 46068,
    "memory_free_mb": 45000,
    "utilization_pct": 5,
}
L40S_2 = {**L40S, "uuid": "GPU-9d4e7a20-0000-4000-8000-0000000240e5"}  # a second, identical card
RTX_3070 = {
    "name": "NVIDIA GeForce RTX 3070",
    "uuid": "GPU-3a07c0de-0000-4000-8000-000000003070",
    "memory_total_mb": 8192,
    "memory_free_mb": 7800,
    "utilization_pct": 0,
}


class FakeGpus:
    """One worker's fake NVML state; ``update`` changes readings while the worker runs."""

    def __init__(
        self,
        path: Path,
        gpus: list[dict[str, Any]] | None = None,
        fail: str | None = None,
        driver: str = "550.54.15",
        cuda: int = 12040,
    ) -> None:
        self.path = path
        self.state: dict[str, Any] = {"driver": driver, "cuda": cuda, "gpus": [dict(g) for g in gpus or []]}
        if fail:
            self.state["fail"] = fail
        self._write()

    def _write(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state))
        tmp.replace(self.path)  # atomic: a worker never reads half a file

    def update(self, index: int, **readings: Any) -> None:
        self.state["gpus"][index].update(readings)
        self._write()

    @property
    def env(self) -> dict[str, str]:
        path = os.pathsep.join(p for p in (str(FAKE_NVML_DIR), os.environ.get("PYTHONPATH", "")) if p)
        return {"PYTHONPATH": path, "REEL_FAKE_NVML": str(self.path)}
