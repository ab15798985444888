"""docker/docker-compose.yml: the services a distributed Reel needs, and pools pinned to real plugins."""

from __future__ import annotations

import shlex
import tomllib
from pathlib import Path

import yaml
from reel_host.plugins import parse_pins

ROOT = Path(__file__).resolve().parents[2]


def plugin_entry_points() -> dict[str, str]:
    """Entry point name -> plugin folder, read from plugins/*/pyproject.toml."""
    names = {}
    for pyproject in sorted(ROOT.glob("plugins/*/pyproject.toml")):
        project = tomllib.loads(pyproject.read_text())["project"]
        for name in project["entry-points"]["reel.plugins"]:
            names[name] = pyproject.parent.name
    return names


def option(command: list[str], name: str) -> str | None:
    return command[command.index(name) + 1] if name in command else None


def test_compose__runs_redis_postgres_s3_api_and_two_pools_pinned_to_real_plugins():
    compose = yaml.safe_load((ROOT / "docker" / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"redis", "postgres", "minio", "api"} <= set(services)
    api_env = services["api"]["environment"]
    assert api_env["REEL_BROKER_URL"].startswith("redis://redis:")
    assert (
        api_env["REEL_DATABASE_URL"].startswith("postgresql+psycopg://")
        and "@postgres:" in api_env["REEL_DATABASE_URL"]
    )
    assert api_env["REEL_STORAGE_URL"].startswith("s3://")
    assert api_env["REEL_STORAGE_ENDPOINT_URL"] == "http://minio:9000"

    entry_points = plugin_entry_points()
    assert set(entry_points) == {"image", "video", "audio"}
    pools = {}
    for name, service in services.items():
        command = service.get("command") or []
        command = shlex.split(command) if isinstance(command, str) else command
        if command[:2] != ["reel", "worker"]:
            continue
        pins = parse_pins(option(command, "--plugins"))
        assert pins, f"{name} pins no plugin"
        assert set(pins) <= set(entry_points), f"{name} pins unknown plugins {set(pins) - set(entry_points)}"
        built = set(service["build"]["args"]["PLUGINS"].split())
        assert {entry_points[p] for p in pins} <= built, f"{name} pins plugins its image does not install"
        assert service["build"]["dockerfile"] == "docker/Dockerfile.worker"
        assert service["environment"]["REEL_BROKER_URL"] == api_env["REEL_BROKER_URL"]
        pools[option(command, "--pool")] = set(pins)
    assert len(pools) >= 2
    assert len({frozenset(p) for p in pools.values()}) == len(pools), "pools should carry different plugins"


def test_worker_dockerfile__cuda_base_and_plugins_per_build_argument():
    dockerfile = (ROOT / "docker" / "Dockerfile.worker").read_text()
    assert "ARG CUDA_IMAGE=nvidia/cuda:" in dockerfile
    assert "ARG PLUGINS=" in dockerfile and "/src/plugins/$p" in dockerfile
    assert (ROOT / "docker" / "Dockerfile.api").is_file()
