"""Loaded models kept between tasks of one worker process, least recently used out first.

The cache is bounded by memory (``budget_bytes``) and, if set, by count (``capacity``).
A model's size is what it holds in torch tensors (parameters and buffers of its modules,
diffusers pipeline components, tensors in dicts/lists, each storage counted once), or,
when it was loaded onto a CUDA device, how much CUDA memory the load allocated if that is
more. Before a load the cache evicts until the new model is expected to fit: its size
from an earlier load of the same key, else the generator's ``min_vram_gb`` on a GPU. After
the load, if the real size overshoots, older models go too (never the one just loaded).
Models that hold no torch tensors weigh 0 and are bounded by count only.
"""

from __future__ import annotations

import logging
import sys
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from reel_sdk import Generator
from reel_sdk.torch_support import free_device_memory

log = logging.getLogger("reel.worker.cache")

GIB = 1024**3
_Key = tuple[str, str, str]


def model_bytes(model: Any) -> int:
    """Bytes of tensor storage ``model`` holds (0 when torch was never imported)."""
    torch = sys.modules.get("torch")
    if torch is None:  # nothing can hold a tensor, and importing torch here would cost seconds
        return 0
    seen: set[tuple[str, int]] = set()
    total = 0
    for tensor in _tensors(torch, model, depth=0):
        storage = tensor.untyped_storage()
        key = (str(tensor.device), storage.data_ptr())
        if key not in seen:
            seen.add(key)
            total += storage.nbytes()
    return total


def _tensors(torch: Any, obj: Any, depth: int) -> Iterator[Any]:
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, torch.nn.Module):
        yield from obj.parameters()
        yield from obj.buffers()
    elif depth >= 3:
        return
    elif isinstance(obj, dict):
        for value in obj.values():
            yield from _tensors(torch, value, depth + 1)
    elif isinstance(obj, list | tuple):
        for value in obj:
            yield from _tensors(torch, value, depth + 1)
    elif isinstance(getattr(obj, "components", None), dict):  # a diffusers pipeline
        yield from _tensors(torch, obj.components, depth + 1)


def _cuda_allocated(device: str) -> int | None:
    torch = sys.modules.get("torch")
    if torch is None or not device.startswith("cuda") or not torch.cuda.is_initialized():
        return None
    return int(torch.cuda.memory_allocated(device))


class ModelCache:
    """LRU cache of loaded models, bounded by ``budget_bytes`` and/or ``capacity`` (None: unbounded)."""

    def __init__(self, capacity: int | None = 2, budget_bytes: int | None = None) -> None:  # 0/None: no bound
        self.capacity = max(1, capacity) if capacity else None
        self.budget_bytes = budget_bytes if budget_bytes and budget_bytes > 0 else None
        self._models: OrderedDict[_Key, tuple[Generator, Any]] = OrderedDict()
        self._bytes: dict[_Key, int] = {}  # of loaded models
        self._seen_bytes: dict[_Key, int] = {}  # of every model loaded once (the estimate of a reload)
        self.loads = 0

    @property
    def used_bytes(self) -> int:
        return sum(self._bytes.values())

    def get(self, generator: Generator, model_key: str, device: str) -> Any:
        """The loaded model for this key, loading it (and evicting the oldest first) if needed."""
        key = (generator.name, model_key, device)
        if key in self._models:
            self._models.move_to_end(key)
            return self._models[key][1]
        expected = self._expected_bytes(key, generator, device)
        while self._models and not self._fits(expected):
            self._evict_oldest()
        before = _cuda_allocated(device)
        model = generator.load(model_key, device)
        after = _cuda_allocated(device)
        size = max(model_bytes(model), (after - before) if before is not None and after is not None else 0)
        self.loads += 1
        self._models[key] = (generator, model)
        self._bytes[key] = self._seen_bytes[key] = size
        log.info("loaded model %s of %s on %s: %.2f GiB (cache holds %.2f GiB%s)", model_key, generator.name,
                 device, size / GIB, self.used_bytes / GIB,
                 f" of {self.budget_bytes / GIB:.2f}" if self.budget_bytes else "")
        while len(self._models) > 1 and self.budget_bytes and self.used_bytes > self.budget_bytes:
            self._evict_oldest()
        return model

    def holds(self, generator: Generator, model_key: str, device: str) -> bool:
        return (generator.name, model_key, device) in self._models

    def _expected_bytes(self, key: _Key, generator: Generator, device: str) -> int:
        if key in self._seen_bytes:
            return self._seen_bytes[key]
        if device.startswith("cuda"):
            return int(float(generator.requirements.min_vram_gb or 0) * GIB)
        return 0

    def _fits(self, expected: int) -> bool:
        if self.capacity is not None and len(self._models) >= self.capacity:
            return False
        return self.budget_bytes is None or self.used_bytes + expected <= self.budget_bytes

    def _evict_oldest(self) -> None:
        key, (gen, model) = self._models.popitem(last=False)
        name, model_key, device = key
        freed = self._bytes.pop(key, 0)
        log.info("evicting model %s of %s from %s (%.2f GiB)", model_key, name, device, freed / GIB)
        try:
            gen.unload(model)
        except Exception:
            log.exception("unload of %s/%s failed", name, model_key)
        del model
        free_device_memory()

    def clear(self) -> None:
        """Drop every model (after an out-of-memory error)."""
        while self._models:
            self._evict_oldest()

    def __len__(self) -> int:
        return len(self._models)
