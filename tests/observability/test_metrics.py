"""/metrics of a real API and of a real prefork worker (two children) on Redis and PostgreSQL.

The worker carries the test plugin and one faked GPU (NVML faked at its boundary);
values are compared before and after runs, since counters in the test process's API
live as long as the process.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.observability.helpers import (
    children,
    metrics_up,
    scrape,
    start_api,
    value,
    wait_until,
)
from tests.utils.fake_nvml import L4, FakeGpus
from tests.utils.stack import Stack, free_port, make_stack

ECHO_QUEUE = "reel.gen.test.echo"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("metrics")
    with make_stack("distributed", tmp) as stack:
        gpus = FakeGpus(tmp / "nvml.json", [{**L4, "temperature_c": 61, "utilization_pct": 40}])
        port = free_port()
        worker = stack.start_worker("testplugin", pool="metrics", extra_env=gpus.env,
                                    args=["--concurrency", "2", "--metrics-port", str(port)])
        url = f"http://127.0.0.1:{port}/metrics"
        wait_until(lambda: metrics_up(url))
        yield {"stack": stack, "worker": worker, "worker_url": url, "gpus": gpus}


def api(stack: Stack) -> str:
    return stack.url + "/metrics"


def test_metrics__task_counts_histograms_and_http_move_with_a_run(env):
    stack: Stack = env["stack"]
    api_before, worker_before = scrape(api(stack)), scrape(env["worker_url"])
    good = [stack.submit("test.echo", {"text": f"m{i}"}) for i in range(3)]
    bad = stack.submit("test.echo", {"text": "x", "bad_input": True})
    assert [stack.follow(t["id"])["status"] for t in good] == ["succeeded"] * 3
    assert stack.follow(bad["id"])["status"] == "failed"
    api_after, worker_after = scrape(api(stack)), scrape(env["worker_url"])

    def delta(before: Any, after: Any, name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    # submits are counted by the API process, runs by the worker's pool children
    assert delta(api_before, api_after, "reel_tasks_submitted_total", generator="test.echo") == 4
    assert delta(worker_before, worker_after, "reel_tasks_started_total", generator="test.echo") == 4
    assert delta(worker_before, worker_after, "reel_tasks_finished_total",
                 generator="test.echo", status="succeeded") == 3
    assert delta(worker_before, worker_after, "reel_tasks_finished_total",
                 generator="test.echo", status="failed") == 1
    assert delta(worker_before, worker_after, "reel_task_run_seconds_count", generator="test.echo") == 4
    assert delta(worker_before, worker_after, "reel_task_queue_wait_seconds_count", generator="test.echo") == 4
    assert value(worker_after, "reel_model_cache_misses_total", generator="test.echo") >= 1
    assert (value(worker_after, "reel_model_cache_hits_total", generator="test.echo")
            + value(worker_after, "reel_model_cache_misses_total", generator="test.echo")) >= 4
    assert delta(api_before, api_after, "reel_http_requests_total",
                 route="/api/v1/tasks/submit", method="POST", status="202") == 4
    assert delta(api_before, api_after, "reel_http_request_duration_seconds_count",
                 route="/api/v1/tasks/submit", method="POST") == 4
    # the SSE streams of stack.follow() were counted open and are closed again
    assert value(api_after, "reel_sse_connections_open", route="/api/v1/tasks/{task_id}/events") == 0
    assert value(api_after, "reel_queue_depth", queue=ECHO_QUEUE) == 0
    assert value(api_after, "reel_records_up") == 1


def test_metrics__queue_depth_and_waiting_for_worker_rise_and_fall_to_zero(env):
    stack: Stack = env["stack"]
    # test.gpu needs 24 GB; the worker's L4 has 22.5: nobody takes it
    tasks = [stack.submit("test.gpu", {"text": "g"}) for _ in range(2)]
    now = scrape(api(stack))
    assert value(now, "reel_queue_depth", queue="reel.gen.test.gpu") == 2
    assert value(now, "reel_tasks_waiting_for_worker", generator="test.gpu") == 2
    assert value(now, "reel_queue_oldest_age_seconds", queue="reel.gen.test.gpu") >= 0
    before_cancel = value(now, "reel_tasks_finished_total", generator="test.gpu", status="cancelled")
    with stack.client() as c:
        for t in tasks:
            assert c.delete(f"/tasks/{t['id']}/cancel").status_code == 200
    after = scrape(api(stack))
    assert value(after, "reel_queue_depth", queue="reel.gen.test.gpu") == 0
    assert value(after, "reel_tasks_waiting_for_worker", generator="test.gpu") == 0
    assert value(after, "reel_tasks_finished_total", generator="test.gpu", status="cancelled") == before_cancel + 2


def test_metrics__workers_by_pool_and_state(env):
    samples = scrape(api(env["stack"]))
    assert value(samples, "reel_workers", pool="metrics", state="idle") + value(
        samples, "reel_workers", pool="metrics", state="busy") == 1
    assert value(samples, "reel_workers", pool="metrics", state="lost") == 0


def test_metrics__worker_reports_its_gpus_from_nvml_at_each_scrape(env):
    gpus: FakeGpus = env["gpus"]
    samples = scrape(env["worker_url"])
    [(_, labels)] = [k for k in samples if k[0] == "reel_gpu_memory_total_bytes"]
    key = dict(labels)
    assert key["gpu"] == "0" and key["gpu_name"] == "NVIDIA L4" and key["worker"].startswith("metrics@")
    assert value(samples, "reel_gpu_memory_total_bytes", **key) == L4["memory_total_mb"] * 2**20
    assert value(samples, "reel_gpu_temperature_celsius", **key) == 61
    assert value(samples, "reel_gpu_utilization_ratio", **key) == 0.4
    gpus.update(0, memory_free_mb=1000, utilization_pct=97)
    later = scrape(env["worker_url"])
    assert value(later, "reel_gpu_memory_used_bytes", **key) == (L4["memory_total_mb"] - 1000) * 2**20
    assert value(later, "reel_gpu_utilization_ratio", **key) == 0.97


def test_metrics__counters_survive_a_pool_child_being_replaced(env):
    stack: Stack = env["stack"]
    main = env["worker"].proc.pid
    pool = wait_until(lambda: len(children(main)) == 2 and children(main))
    for t in [stack.submit("test.echo", {"text": "before"}) for _ in range(2)]:
        assert stack.follow(t["id"])["status"] == "succeeded"
    before = scrape(env["worker_url"])
    finished = value(before, "reel_tasks_finished_total", generator="test.echo", status="succeeded")
    os.kill(pool[0], signal.SIGKILL)
    fresh = wait_until(lambda: (set(children(main)) - set(pool)) and len(children(main)) == 2)
    assert fresh  # Celery started a new child in its place
    after_kill = scrape(env["worker_url"])
    assert value(after_kill, "reel_tasks_finished_total", generator="test.echo", status="succeeded") == finished
    for t in [stack.submit("test.echo", {"text": "after"}) for _ in range(3)]:
        assert stack.follow(t["id"])["status"] == "succeeded"
    end = scrape(env["worker_url"])
    assert value(end, "reel_tasks_finished_total", generator="test.echo", status="succeeded") == finished + 3


def test_metrics__a_second_api_process_reports_its_own_counters_and_the_same_state(env):
    stack: Stack = env["stack"]
    _, url2 = start_api(stack)
    blocked = stack.submit("test.gpu", {"text": "two"})  # held in the queue while both are scraped
    try:
        before = scrape(url2 + "/metrics")
        with httpx.Client(base_url=url2 + "/api/v1", headers={"Authorization": f"Bearer {stack.key}"}) as c:
            r = c.post("/tasks/submit", json={"generator": "test.echo", "params": {"text": "via api2"}})
            assert r.status_code == 202, r.text
        assert stack.follow(r.json()["id"])["status"] == "succeeded"
        first, second = scrape(api(stack)), scrape(url2 + "/metrics")
        assert value(second, "reel_tasks_submitted_total", generator="test.echo") == value(
            before, "reel_tasks_submitted_total", generator="test.echo") + 1
        for name, labels in [("reel_queue_depth", {"queue": "reel.gen.test.gpu"}),
                             ("reel_workers", {"pool": "metrics", "state": "lost"})]:
            assert value(first, name, **labels) == value(second, name, **labels)
        assert value(second, "reel_queue_depth", queue="reel.gen.test.gpu") == 1
    finally:
        with stack.client() as c:
            c.delete(f"/tasks/{blocked['id']}/cancel")


def test_metrics__an_api_in_multiprocess_mode_sums_its_process_files(env, tmp_path):
    stack: Stack = env["stack"]
    directory = tmp_path / "prom"
    directory.mkdir()
    _, url = start_api(stack, {"PROMETHEUS_MULTIPROC_DIR": str(directory)})
    with httpx.Client(base_url=url + "/api/v1", headers={"Authorization": f"Bearer {stack.key}"}) as c:
        r = c.post("/tasks/submit", json={"generator": "test.echo", "params": {"text": "multiproc"}})
    assert r.status_code == 202
    assert stack.follow(r.json()["id"])["status"] == "succeeded"
    samples = scrape(url + "/metrics")
    assert value(samples, "reel_tasks_submitted_total", generator="test.echo") == 1
    assert value(samples, "reel_http_requests_total", route="/api/v1/tasks/submit", method="POST", status="202") == 1
    assert value(samples, "reel_records_up") == 1  # the records' gauges beside the files' counters
    assert any(directory.glob("counter_*.db"))
