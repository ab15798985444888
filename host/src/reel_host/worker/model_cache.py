"""Loaded models kept between tasks of one worker process, least recently used out first."""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any

from reel_sdk import Generator
from reel_sdk.torch_support import free_device_memory

from reel_host.observability import metrics

log = logging.getLogger("reel.worker.cache")


class ModelCache:
    def __init__(self, capacity: int = 2) -> None:
        self.capacity = max(1, capacity)
        self._models: OrderedDict[tuple[str, str, str], tuple[Generator, Any]] = OrderedDict()
        self.loads = 0

    def get(self, generator: Generator, model_key: str, device: str) -> Any:
        """The loaded model for this key, loading (and evicting the oldest) if needed."""
        key = (generator.name, model_key, device)
        if key in self._models:
            self._models.move_to_end(key)
            metrics.model_cache_event("hit", generator.name)
            return self._models[key][1]
        metrics.model_cache_event("miss", generator.name)
        while len(self._models) >= self.capacity:
            self._evict_oldest()
        model = generator.load(model_key, device)
        self.loads += 1
        self._models[key] = (generator, model)
        self._report_bytes()
        return model

    def holds(self, generator: Generator, model_key: str, device: str) -> bool:
        return (generator.name, model_key, device) in self._models

    def _evict_oldest(self) -> None:
        (name, model_key, device), (gen, model) = self._models.popitem(last=False)
        log.info("evicting model %s of %s from %s", model_key, name, device)
        try:
            gen.unload(model)
        except Exception:
            log.exception("unload of %s/%s failed", name, model_key)
        del model
        free_device_memory()
        metrics.model_cache_event("eviction", name)
        self._report_bytes(also=name)

    def _report_bytes(self, also: str | None = None) -> None:
        """Loaded bytes per generator, after each load or eviction (``reel_model_cache_loaded_bytes``)."""
        sizes: dict[str, int] = {also: 0} if also else {}
        for (name, _key, _device), (_gen, model) in self._models.items():
            sizes[name] = sizes.get(name, 0) + metrics.model_bytes(model)
        metrics.model_cache_loaded(sizes)

    def clear(self) -> None:
        """Drop every model (after an out-of-memory error)."""
        while self._models:
            self._evict_oldest()

    def __len__(self) -> int:
        return len(self._models)
