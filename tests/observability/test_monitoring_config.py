"""docker/: the Grafana dashboard and Prometheus rules query only metrics Reel really exports.

The exported names are taken from real scrapes: the API's /metrics, a worker's
--metrics-port (a faked GPU, a model cache of one so models are evicted) and a
callback sender's --metrics-port after it delivered a webhook to a real receiver.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.callbacks.conftest import FAST_CALLBACKS, wait_deliveries
from tests.callbacks.receivers import Receiver
from tests.observability.helpers import metrics_up, start_process, wait_until
from tests.utils.fake_nvml import L4, FakeGpus
from tests.utils.stack import free_port, make_stack

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
METRIC = re.compile(r"\breel_[a-z0-9_]+\b")
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",),
            "summary": ("_count", "_sum", "")}


def exported(text: str) -> set[str]:
    """Every series name the exposition can have, samples or not yet (a labelled counter before its first inc)."""
    out = set()
    for family in text_string_to_metric_families(text):
        out |= {family.name + suffix for suffix in SUFFIXES.get(family.type, ("",))}
        out |= {s.name for s in family.samples}
    return out


def alert_rules() -> list[dict]:
    return [rule for group in yaml.safe_load((DOCKER / "prometheus" / "alerts.yml").read_text())["groups"]
            for rule in group["rules"]]


def dashboard_exprs() -> list[str]:
    dash = json.loads((DOCKER / "grafana" / "dashboards" / "reel.json").read_text())
    return [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]


@pytest.fixture(scope="module")
def scraped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[set[str]]:
    tmp = tmp_path_factory.mktemp("monitoring")
    with make_stack("distributed", tmp, {**FAST_CALLBACKS, "REEL_MODEL_CACHE_SIZE": "1"}) as stack:
        gpus = FakeGpus(tmp / "nvml.json", [{**L4, "temperature_c": 55}])
        wport, sport = free_port(), free_port()
        stack.start_worker("testplugin", pool="mon", extra_env={**gpus.env, "REEL_WORKER_METRICS_PORT": str(wport)})
        start_process(stack, "sender", ["callbacks", "--loglevel", "WARNING"],
                      {"REEL_CALLBACKS_METRICS_PORT": str(sport)})
        urls = [stack.url + "/metrics", f"http://127.0.0.1:{wport}/metrics", f"http://127.0.0.1:{sport}/metrics"]
        wait_until(lambda: all(metrics_up(u) for u in urls[1:]), timeout=60)
        receiver = Receiver().start()
        try:
            tasks = [stack.submit("test.echo", {"text": "a", "model": m},
                                  callback={"url": receiver.url(), "events": ["succeeded"]}) for m in ("a", "b")]
            for t in tasks:
                assert stack.follow(t["id"])["status"] == "succeeded"
                wait_deliveries(stack, t["id"], lambda rows: bool(rows) and rows[0]["status"] == "delivered")
            names: set[str] = set()
            for url in urls:
                names |= exported(httpx.get(url, timeout=10).text)
            yield names
        finally:
            receiver.stop()


def test_monitoring__every_metric_the_rules_and_dashboard_query_is_exported(scraped):
    queried = {m for rule in alert_rules() for m in METRIC.findall(rule["expr"])}
    queried |= {m for expr in dashboard_exprs() for m in METRIC.findall(expr)}
    assert len(queried) >= 20
    assert queried - scraped == set(), f"queried but never exported: {sorted(queried - scraped)}"


def test_monitoring__the_design_names_and_the_issue_list_are_exported(scraped):
    required = {
        "reel_tasks_submitted_total", "reel_tasks_started_total", "reel_tasks_finished_total",
        "reel_task_run_seconds_bucket", "reel_task_queue_wait_seconds_bucket", "reel_queue_depth",
        "reel_queue_oldest_age_seconds", "reel_tasks_waiting_for_worker", "reel_workers",
        "reel_gpu_memory_used_bytes", "reel_gpu_memory_total_bytes", "reel_gpu_utilization_ratio",
        "reel_gpu_temperature_celsius", "reel_model_cache_hits_total", "reel_model_cache_misses_total",
        "reel_model_cache_evictions_total", "reel_model_cache_loaded_bytes", "reel_callback_deliveries_total",
        "reel_callback_retry_backlog", "reel_callback_breakers_open", "reel_http_requests_total",
        "reel_http_request_duration_seconds_bucket", "reel_sse_connections_open",
    }
    assert required - scraped == set()


def test_monitoring__alert_rules_cover_what_pages_people():
    rules = {r["alert"]: r for r in alert_rules()}
    for name in ("ReelNoWorkerForQueuedTasks", "ReelQueueTooOld", "ReelCallbackBacklogGrowing",
                 "ReelGpuMemoryNearFull", "ReelTaskErrorRate"):
        rule = rules[name]
        assert rule["expr"] and rule["for"] and rule["labels"]["severity"] and rule["annotations"]["summary"]


def test_monitoring__compose_override_wires_prometheus_and_grafana_to_the_shipped_files():
    base = yaml.safe_load((DOCKER / "docker-compose.yml").read_text())["services"]
    override = yaml.safe_load((DOCKER / "docker-compose.monitoring.yml").read_text())["services"]
    # it only adds to services the base file has, plus its own
    assert set(override) - set(base) == {"prometheus", "grafana"}
    assert override["api"]["environment"]["REEL_LOG_FORMAT"] == "json"
    assert "REEL_METRICS_TOKEN" in override["api"]["environment"]
    for pool in ("worker-image", "worker-av"):
        assert override[pool]["environment"]["REEL_WORKER_METRICS_PORT"] == "9101"
    assert override["callbacks"]["environment"]["REEL_CALLBACKS_METRICS_PORT"] == "9102"
    prom = yaml.safe_load((DOCKER / "prometheus" / "prometheus.yml").read_text())
    assert prom["rule_files"] == ["/etc/prometheus/alerts.yml"]
    assert "./prometheus:/etc/prometheus:ro" in override["prometheus"]["volumes"]
    jobs = {j["job_name"]: j for j in prom["scrape_configs"]}
    assert jobs["reel-api"]["authorization"]["credentials_file"] == "/prometheus/reel-metrics-token"
    assert "/prometheus/reel-metrics-token" in override["prometheus"]["command"][0]
    workers = {n for sd in jobs["reel-workers"]["dns_sd_configs"] for n in sd["names"]}
    assert workers == {"worker-image", "worker-av"} and workers <= set(base)
    senders = {n for sd in jobs["reel-callbacks"]["dns_sd_configs"] for n in sd["names"]}
    assert senders == {"callbacks"} <= set(base)
    provider = yaml.safe_load((DOCKER / "grafana/provisioning/dashboards/reel.yml").read_text())["providers"][0]
    assert f"./grafana/dashboards:{provider['options']['path']}:ro" in override["grafana"]["volumes"]
    source = yaml.safe_load((DOCKER / "grafana/provisioning/datasources/prometheus.yml").read_text())
    uid = source["datasources"][0]["uid"]
    dash = json.loads((DOCKER / "grafana/dashboards/reel.json").read_text())
    assert {p["datasource"]["uid"] for p in dash["panels"] if p["type"] != "row"} == {uid}
    titles = " ".join(p["title"] for p in dash["panels"] if p["type"] == "row").lower()
    for topic in ("queues", "throughput", "durations", "failures", "gpus", "callbacks"):
        assert topic in titles
