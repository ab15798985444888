"""Three real worker pools on the machine's Redis, with different pins and (faked) GPUs.

- ``cpu``:   testplugin==1.2.*, no NVIDIA driver        -> test.echo, test.slow
- ``small``: image, one 16 GB RTX A4000                  -> image.diffusers only
- ``big``:   a pool file: testplugin, GPU 1 of [A4000, L40S], test.slow excluded
             -> test.echo and test.gpu (needs 24 GB)

The API itself blocks the test plugin, so what it knows of test.* comes from the
workers' heartbeats (and their advertised params schema validates submits).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.utils.fake_nvml import A4000, L40S, FakeGpus
from tests.utils.stack import Stack, make_stack


@pytest.fixture(scope="module")
def pools(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, dict[str, FakeGpus]]]:
    tmp = tmp_path_factory.mktemp("pools")
    with make_stack("distributed", tmp, {"REEL_BLOCK_PLUGINS": "testplugin"}) as stack:
        gpus = {
            "cpu": FakeGpus(tmp / "cpu.json", fail="Driver Not Loaded"),
            "small": FakeGpus(tmp / "small.json", [A4000]),
            "big": FakeGpus(tmp / "big.json", [A4000, L40S]),
        }
        (tmp / "big.toml").write_text(
            'pool = "big"\nplugins = ["testplugin"]\ngpus = [1]\nexclude = ["test.slow"]\n'
        )
        workers_env = {"REEL_BLOCK_PLUGINS": ""}  # the workers do load it
        stack.start_worker("testplugin==1.2.*", pool="cpu", extra_env={**workers_env, **gpus["cpu"].env})
        stack.start_worker("image", pool="small", extra_env={**workers_env, **gpus["small"].env})
        stack.start_worker(
            "testplugin",
            pool="big",
            extra_env={**workers_env, **gpus["big"].env},
            args=["--config", str(tmp / "big.toml")],
        )
        yield stack, gpus


def workers_by_pool(stack: Stack) -> dict[str, dict[str, Any]]:
    with stack.client() as c:
        return {w["pool"]: w for w in c.get("/workers/status").json()["data"]}


def pool_of_run(stack: Stack, task_id: str) -> list[str]:
    with stack.client() as c:
        return [a["worker"].split("@")[0] for a in c.get(f"/tasks/{task_id}/attempts").json()]


def test_workers_status__shows_pools_plugins_versions_and_gpus(pools):
    stack, _ = pools
    workers = workers_by_pool(stack)
    assert set(workers) == {"cpu", "small", "big"}
    assert all(w["status"] == "online" for w in workers.values())
    assert {(p["name"], p["version"]) for p in workers["cpu"]["plugins"]} == {("testplugin", "1.2.0")}
    assert {(p["name"], p["version"]) for p in workers["small"]["plugins"]} == {("image", "0.1.0")}
    assert workers["cpu"]["gpus"] == []
    assert workers["cpu"]["generators"] == ["test.echo", "test.slow"]
    assert workers["cpu"]["skipped"] == [{"name": "test.gpu", "reason": "needs a GPU; this worker has none"}]
    assert workers["small"]["generators"] == ["image.diffusers"]
    assert [(g["name"], g["memory_total_mb"]) for g in workers["small"]["gpus"]] == [
        ("NVIDIA RTX A4000", 16376)
    ]
    big = workers["big"]
    assert big["generators"] == ["test.echo", "test.gpu"]
    assert big["queues"] == ["reel.gen.test.echo", "reel.gen.test.gpu"]
    assert big["skipped"] == [{"name": "test.slow", "reason": "excluded by the pool's configuration"}]
    [gpu] = big["gpus"]
    assert (gpu["index"], gpu["name"], gpu["uuid"], gpu["driver_version"], gpu["cuda_version"]) == (
        1,
        "NVIDIA L40S",
        L40S["uuid"],
        "550.54.15",
        "12.4",
    )
    # a project key sees no hostname of a worker that does not run its task (docs/security.md)
    assert big["hostname"] is None and big["last_heartbeat"] and big["current_task"] is None


def test_plugins__count_the_live_workers_that_carry_each_generator(pools):
    stack, _ = pools
    with stack.client() as c:
        body = c.get("/plugins").json()
    counts = {p["name"]: p["workers"] for p in body["data"]}
    assert counts["test.echo"] == 2
    assert counts["test.gpu"] == 1
    assert counts["test.slow"] == 1
    assert counts["image.diffusers"] == 1
    assert counts["audio.bark"] == 0
    gpu = next(p for p in body["data"] if p["name"] == "test.gpu")
    assert gpu["requirements"]["min_vram_gb"] == 24 and gpu["version"] == "1.2.0"  # as advertised


def test_tasks__go_only_to_workers_that_carry_the_generator_and_fit_it(pools):
    stack, _ = pools
    gpu_tasks = [stack.submit("test.gpu", {"text": f"g{i}"}) for i in range(2)]
    echo_tasks = [stack.submit("test.echo", {"text": f"e{i}"}) for i in range(4)]
    slow = stack.submit("test.slow", {"seconds": 0.1})
    for task in [*gpu_tasks, *echo_tasks, slow]:
        assert stack.follow(task["id"])["status"] == "succeeded"
    assert {p for t in gpu_tasks for p in pool_of_run(stack, t["id"])} == {"big"}
    assert {p for t in echo_tasks for p in pool_of_run(stack, t["id"])} <= {"cpu", "big"}
    assert pool_of_run(stack, slow["id"]) == ["cpu"]


def test_workers_status__gpu_readings_refresh_with_each_heartbeat(pools):
    stack, gpus = pools
    gpus["big"].update(1, utilization_pct=87, memory_free_mb=1234)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the next heartbeat (every 0.5 s) reads NVML again
        [gpu] = workers_by_pool(stack)["big"]["gpus"]
        if gpu["utilization_pct"] == 87:
            break
        time.sleep(0.1)
    assert (gpu["utilization_pct"], gpu["memory_free_mb"]) == (87, 1234)


def test_workers_status__shows_the_task_a_worker_runs_now(pools):
    stack, _ = pools
    task = stack.submit("test.slow", {"seconds": 1.5})
    stack.follow(task["id"], until=("running",))
    assert workers_by_pool(stack)["cpu"]["current_task"] == task["id"]
    stack.follow(task["id"])
    assert workers_by_pool(stack)["cpu"]["current_task"] is None


def test_submit__no_live_worker_carries_it__accepted_and_says_it_waits(pools):
    stack, _ = pools
    task = stack.submit("audio.bark", {"text": "hello"})
    assert task["status"] == "queued"
    assert task["waiting_for_worker"] is True
    assert task["message"] == "waiting for a worker: no live worker carries generator 'audio.bark'"
    with stack.client() as c:
        assert c.get(f"/tasks/{task['id']}/status").json()["waiting_for_worker"] is True
        c.delete(f"/tasks/{task['id']}/cancel")
    carried = stack.submit("test.echo", {"text": "x"})
    assert carried["waiting_for_worker"] is False


def test_submit__no_live_worker_and_refusal_configured__503(pools):
    stack, _ = pools
    stack.runtime.settings.refuse_without_worker = True
    try:
        with stack.client() as c:
            r = c.post("/tasks/submit", json={"generator": "audio.bark", "params": {"text": "hello"}})
            ok = c.post("/tasks/submit", json={"generator": "test.echo", "params": {"text": "x"}})
    finally:
        stack.runtime.settings.refuse_without_worker = False
    assert r.status_code == 503
    assert r.json()["error"]["code"] == "no_worker"
    assert "audio.bark" in r.json()["error"]["message"]
    assert ok.status_code == 202


def test_submit__generator_only_workers_carry__checked_against_its_advertised_schema(pools):
    stack, _ = pools
    assert stack.runtime.registry.get("test.echo") is None  # the API process blocks the test plugin
    with stack.client() as c:
        r = c.post("/tasks/submit", json={"generator": "test.echo", "params": {"text": "x", "steps": 0}})
        unknown = c.post(
            "/tasks/submit", json={"generator": "test.echo", "params": {"text": "x", "colour": 1}}
        )
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_params"
    assert "params.steps" in r.json()["error"]["message"]
    assert unknown.status_code == 422 and "colour" in unknown.json()["error"]["message"]
