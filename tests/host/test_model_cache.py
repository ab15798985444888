"""The model cache's memory budget: sizes measured from torch tensors, LRU eviction before a load."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel
from reel_host.worker.model_cache import GIB, ModelCache, model_bytes
from reel_sdk import Generator, Requirements

torch = pytest.importorskip("torch")

MIB = 2**20


class NoParams(BaseModel):
    pass


class Sized(Generator):
    """Loads a module of ``mib`` MiB of float32 parameters per model key; records what happens."""

    name = "test.sized"
    kind = "text"
    Params = NoParams

    def __init__(self, mib: dict[str, int], events: list[str], vram_gb: float = 0) -> None:
        self.mib, self.events = mib, events
        self.requirements = Requirements(gpu=False, min_vram_gb=vram_gb)

    def load(self, model_key: str, device: str) -> Any:
        self.events.append(f"load {model_key}")
        return torch.nn.Linear(self.mib[model_key] * MIB // 4, 1, bias=False)

    def unload(self, model: Any) -> None:
        self.events.append(f"unload {model.weight.numel() * 4 // MIB}MiB")

    def generate(self, model, params, ctx):  # type: ignore[no-untyped-def]
        raise NotImplementedError


def test_model_bytes__parameters_buffers_pipeline_components_and_shared_storage_once():
    linear = torch.nn.Linear(256, 256)  # 256*256 + 256 float32
    bn = torch.nn.BatchNorm1d(16)  # 2*16 parameters, 2*16 + 1 buffers
    assert model_bytes(linear) == (256 * 256 + 256) * 4
    assert model_bytes(bn) == 16 * 4 * 4 + 8

    class Pipeline:  # the shape of a diffusers pipeline
        components = {"unet": linear, "vae": bn, "tokenizer": object(), "scheduler": None}

    assert model_bytes(Pipeline()) == model_bytes(linear) + model_bytes(bn)
    assert model_bytes({"a": linear, "b": [linear.weight]}) == model_bytes(linear)  # counted once
    assert model_bytes(str.upper) == 0


def test_cache__evicts_least_recently_used_when_the_budget_is_exceeded():
    events: list[str] = []
    gen = Sized({"a": 4, "b": 4, "c": 4}, events)
    cache = ModelCache(capacity=0, budget_bytes=10 * MIB)
    cache.get(gen, "a", "cpu")
    cache.get(gen, "b", "cpu")
    cache.get(gen, "a", "cpu")  # a is now the most recently used
    assert cache.used_bytes == 8 * MIB and events == ["load a", "load b"]

    cache.get(gen, "c", "cpu")  # 12 MiB > 10: b (least recent) goes

    assert events[-2:] == ["load c", "unload 4MiB"]
    assert cache.holds(gen, "a", "cpu") and cache.holds(gen, "c", "cpu") and not cache.holds(gen, "b", "cpu")
    assert cache.used_bytes == 8 * MIB


def test_cache__a_model_seen_before_is_made_room_for_before_it_loads():
    events: list[str] = []
    gen = Sized({"big": 8, "small": 1}, events)
    cache = ModelCache(capacity=0, budget_bytes=10 * MIB)
    cache.get(gen, "small", "cpu")
    cache.get(gen, "big", "cpu")  # 1 + 8 fits
    cache.get(gen, "small", "cpu")
    gen.mib["other"] = 2
    cache.get(gen, "other", "cpu")  # 9 + 2 > 10: big is least recent and goes after the load
    assert events == ["load small", "load big", "load other", "unload 8MiB"]
    events.clear()

    cache.get(gen, "big", "cpu")  # known to weigh 8 MiB: 1 + 2 + 8 > 10, so small goes first

    assert events == ["unload 1MiB", "load big"]
    assert cache.used_bytes == 10 * MIB


def test_cache__on_a_gpu_min_vram_is_the_estimate_of_a_first_load():
    events: list[str] = []
    gen = Sized({"a": 4, "b": 4}, events, vram_gb=0.5)
    cache = ModelCache(capacity=0, budget_bytes=int(0.5 * GIB))
    cache.get(gen, "a", "cuda:0")  # measured 4 MiB; 'cuda:0' is only a cache key here
    cache.get(gen, "b", "cuda:0")  # expects 0.5 GiB: a must go before b loads
    assert events == ["load a", "unload 4MiB", "load b"]


def test_cache__count_bound_still_holds_without_a_budget():
    events: list[str] = []
    gen = Sized({"a": 1, "b": 1, "c": 1}, events)
    cache = ModelCache(capacity=2)
    for key in "abc":
        cache.get(gen, key, "cpu")
    assert len(cache) == 2 and events == ["load a", "load b", "unload 1MiB", "load c"]
