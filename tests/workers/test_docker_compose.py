"""docker/docker-compose.yml: the services a distributed Reel needs, and pools pinned to real plugins."""

from __future__ import annotations

import re
import shlex
import subprocess
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


def compose_file() -> dict:
    return yaml.safe_load((ROOT / "docker" / "docker-compose.yml").read_text())


def reel_services(compose: dict) -> dict[str, list[str]]:
    """Services that run Reel's own images -> their command."""
    found = {}
    for name, service in compose["services"].items():
        if "docker/Dockerfile." in str(service.get("build", {}).get("dockerfile", "")):
            command = service.get("command") or []
            found[name] = shlex.split(command) if isinstance(command, str) else command
    return found


def test_compose__runs_every_process_reel_up_runs_and_nothing_else():
    """`reel up` and a distributed deployment need the same processes; neither may drift."""
    from reel_host.cli.run import UP_PROCESSES

    commands = reel_services(compose_file())
    assert all(c[:1] == ["reel"] and len(c) > 1 for c in commands.values()), commands
    run = {c[1] for c in commands.values()}
    assert run == set(UP_PROCESSES), f"compose runs {sorted(run)}, reel up runs {sorted(UP_PROCESSES)}"


SECRET_NAME = re.compile(r"(SECRET|PASSWORD|ADMIN_KEY|ACCESS_KEY|TOKEN)", re.I)
REQUIRED = re.compile(r"\$\{([A-Z_][A-Z0-9_]*):\?[^}]*\}")


def test_compose__holds_no_secret_and_reads_them_from_the_operators_env_file():
    compose = compose_file()
    lines = (ROOT / "docker" / "docker-compose.yml").read_text().splitlines()
    text = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
    environments = [compose["x-reel-env"]] + [s.get("environment") or {} for s in compose["services"].values()]
    for env in environments:
        for key, value in env.items():
            value = str(value)
            if SECRET_NAME.search(key):
                assert REQUIRED.fullmatch(value), f"{key} must come from docker/.env as ${{VAR:?…}}, not {value!r}"
            for userinfo in re.findall(r"://[^/@\s]*:([^/@\s]*)@", value):  # passwords inside URLs
                assert REQUIRED.fullmatch(userinfo), f"{key} holds a password: {value!r}"
    assert not re.search(r"\$\{[A-Z_]*(SECRET|PASSWORD|KEY)[A-Z_]*:-", text), "no default values for secrets"

    example = (ROOT / "docker" / ".env.example").read_text()
    example_vars = set(re.findall(r"^#?\s*([A-Z_][A-Z0-9_]*)=", example, re.M))
    required = set(REQUIRED.findall(text)) | {"REEL_SECRET_KEY", "REEL_ADMIN_KEY"}
    assert required <= example_vars, f"docker/.env.example lacks {required - example_vars}"
    assert "REEL_SECRET_KEY" not in text and "REEL_ADMIN_KEY" not in text  # from env_file only
    for name in reel_services(compose):
        assert compose["services"][name].get("env_file") == ".env", f"{name} does not read docker/.env"
    ignored = subprocess.run(["git", "check-ignore", "-q", "docker/.env"], cwd=ROOT)
    assert ignored.returncode == 0, "docker/.env must be git-ignored"
