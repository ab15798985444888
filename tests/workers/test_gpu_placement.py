"""GPU placement: `min_vram_gb` routing with and without `gpu`, CPU fallback, two GPUs per worker.

NVML is faked at its boundary (tests/utils/fake_nvml.py). image.diffusers is the shipped
generator that runs on the CPU too but wants 10 GB of GPU memory (`gpu=False,
min_vram_gb=10`); test.gpu needs a 24 GB GPU (`gpu=True`).
"""

from __future__ import annotations

import json
import re
import time

import httpx
import pytest
from reel_host.runtime import Runtime
from reel_host.settings import Settings
from reel_host.worker.app import GPU_CACHE_SHARE, ChildRunners
from reel_host.worker.gpus import GpuInfo, child_device, place

from tests.utils.fake_nvml import A4000, L40S, L40S_2, RTX_3070, FakeGpus
from tests.utils.stack import make_stack
from tests.workers.test_worker_cli import reel_worker


def gpu(spec: dict, index: int = 0) -> GpuInfo:
    return GpuInfo(index=index, name=spec["name"], uuid=spec["uuid"], memory_total_mb=spec["memory_total_mb"],
                   memory_free_mb=spec["memory_free_mb"], utilization_pct=0, driver_version=None, cuda_version=None)


# -- the rule -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("requirements", "gpus", "fallback", "runs_on"),
    [
        ({"gpu": False, "min_vram_gb": 10}, [RTX_3070], False, None),  # too small: not taken, gpu or not
        ({"gpu": False, "min_vram_gb": 10}, [RTX_3070], True, "cpu"),  # ... unless the pool falls back
        ({"gpu": True, "min_vram_gb": 10}, [RTX_3070], True, None),  # needs a GPU: no fallback possible
        ({"gpu": False, "min_vram_gb": 10}, [A4000], False, "gpu"),
        ({"gpu": False, "min_vram_gb": 10}, [], False, "cpu"),  # a CPU worker runs what can run on the CPU
        ({"gpu": True, "min_vram_gb": 0}, [], True, None),
        ({"gpu": False, "min_vram_gb": 0}, [RTX_3070], False, "gpu"),
        ({"gpu": True, "min_vram_gb": 24}, [A4000, L40S], False, None),  # children use both: the smaller counts
        ({"gpu": True, "min_vram_gb": 24}, [L40S, L40S_2], False, "gpu"),
    ],
)
def test_place__min_vram_decides_whether_or_not_gpu_is_set(requirements, gpus, fallback, runs_on):
    placement = place(requirements, [gpu(g, i) for i, g in enumerate(gpus)], cpu_fallback=fallback)
    assert placement.runs_on == runs_on
    assert (placement.reason is None) == (runs_on == "gpu" or (runs_on == "cpu" and not gpus))


def test_child_device__children_take_the_gpus_in_turn():
    two = [gpu(L40S, 0), gpu(L40S_2, 1)]
    assert [child_device(i, two) for i in range(5)] == ["cuda:0", "cuda:1", "cuda:0", "cuda:1", "cuda:0"]
    assert child_device(3, []) == "cpu"


def test_child_runners__device_and_cache_budget_per_child(tmp_path):
    rt = Runtime(Settings(home=tmp_path, model_cache_size=3))
    runners = ChildRunners(rt, "w", [gpu(A4000, 0), gpu(L40S, 1)], cpu_generators={"image.diffusers"}, index=1)
    on_gpu = runners.for_generator("test.echo")
    assert on_gpu.device == "cuda:1" and runners.for_generator(None) is on_gpu
    assert on_gpu.cache.budget_bytes == int(L40S["memory_total_mb"] * 2**20 * GPU_CACHE_SHARE)
    assert on_gpu.cache.capacity == 3
    on_cpu = runners.for_generator("image.diffusers")
    assert on_cpu.device == "cpu" and on_cpu.cache.budget_bytes is None
    fixed = ChildRunners(Runtime(Settings(home=tmp_path, model_cache_bytes="6GiB")), "w", [gpu(A4000)])
    assert fixed.for_generator("x").cache.budget_bytes == 6 * 2**30


# -- reel worker --dry-run --------------------------------------------------------------
def dry_run(tmp_path, gpus: FakeGpus, *args: str) -> dict:
    done = reel_worker(tmp_path, "--plugins", "image", "--dry-run", "--json", *args, env=gpus.env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_dry_run__gpu_too_small__not_taken_though_gpu_is_false(tmp_path):
    plan = dry_run(tmp_path, FakeGpus(tmp_path / "nvml.json", [RTX_3070]))
    assert plan["queues"] == []
    assert plan["skipped"] == [{"name": "image.diffusers", "reason": (
        "needs 10 GB of GPU memory; the GPU here has 8.0 GB (a pool with cpu_fallback = true would run it "
        "on the CPU)")}]


def test_dry_run__cpu_fallback_from_the_command_line_or_the_pool_file(tmp_path):
    gpus = FakeGpus(tmp_path / "nvml.json", [RTX_3070])
    pool = tmp_path / "pool.toml"
    pool.write_text("cpu_fallback = true\n")
    for args in (["--cpu-fallback"], ["--config", str(pool)]):
        plan = dry_run(tmp_path, gpus, *args)
        assert plan["cpu_fallback"] is True
        assert plan["queues"] == ["reel.gen.image.diffusers"] and plan["skipped"] == []
        assert plan["generators"][0]["runs_on"] == "cpu"
    text = reel_worker(tmp_path, "--plugins", "image", "--cpu-fallback", "--dry-run", env=gpus.env).stdout
    assert "reel.gen.image.diffusers" in text and "(on the CPU)" in text and "CPU fallback allowed" in text


def test_dry_run__cpu_worker_keeps_running_cpu_capable_generators(tmp_path):
    plan = dry_run(tmp_path, FakeGpus(tmp_path / "nvml.json", fail="Driver Not Loaded"))
    assert plan["device"] == "cpu" and plan["queues"] == ["reel.gen.image.diffusers"]
    assert plan["generators"][0]["runs_on"] == "cpu"


# -- a real worker on two GPUs ----------------------------------------------------------
def test_worker_on_two_gpus__pool_children_spread_over_them(tmp_path):
    gpus = FakeGpus(tmp_path / "nvml.json", [L40S, L40S_2])
    with make_stack("embedded", tmp_path / "s") as stack:
        worker = stack.start_worker("testplugin", pool="two", extra_env=gpus.env,
                                    args=["--gpu", "0,1", "--concurrency", "2", "--loglevel", "INFO"])
        deadline = time.monotonic() + 60
        while len(set(re.findall(r"pool child (\d) runs on (cuda:\d)", worker.log()))) < 2:
            assert time.monotonic() < deadline, worker.log()
            time.sleep(0.1)
        assert set(re.findall(r"pool child (\d) runs on (cuda:\d)", worker.log())) == {("0", "cuda:0"),
                                                                                      ("1", "cuda:1")}
        tasks = [stack.submit("test.gpu", {"text": f"t{i}"}) for i in range(4)]
        devices = set()
        for task in tasks:
            done = stack.follow(task["id"])
            assert done["status"] == "succeeded", done
            devices.add(httpx.get(done["outputs"][0]["url"]).text.split(" on ")[1])
        assert devices <= {"cuda:0", "cuda:1"}
