"""The operator's CLI: commands that start without the whole host, and ``reel doctor``."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.utils.stack import REDIS_URL, create_pg_database, drop_pg_database, free_port

REEL = [sys.executable, "-m", "reel_host.cli.main"]
HEAVY = ("sqlalchemy", "alembic", "celery", "kombu", "boto3", "uvicorn", "fastapi", "torch")


def run_reel(args: list[str], env: dict[str, str], *, python: list[str] = ()) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *python, "-m", "reel_host.cli.main", *args], env=env,
                          capture_output=True, text=True, timeout=180)


def imported(stderr: str) -> set[str]:
    """Top-level packages named in ``python -X importtime`` output."""
    out = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            out.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return out


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "REEL_HOME": str(tmp_path / "home"), "HF_HUB_CACHE": str(tmp_path / "hub")}


@pytest.mark.parametrize("args", [["--help"], ["plugins"], ["submit", "--help"], ["projects", "--help"]])
def test_cli__light_commands_never_import_the_host(env, args):
    done = run_reel(args, env, python=["-X", "importtime"])
    assert done.returncode == 0, done.stderr[-2000:]
    heavy = imported(done.stderr) & set(HEAVY)
    assert heavy == set(), f"reel {' '.join(args)} imported {sorted(heavy)}"


def test_cli__help_lists_every_command_and_each_runs_its_own_help(env):
    listing = run_reel(["--help"], env).stdout
    for name in ("up", "serve", "worker", "callbacks", "migrate", "plugins", "submit", "doctor", "projects", "keys"):
        assert f" {name} " in listing
    worker = run_reel(["worker", "--help"], env)
    assert worker.returncode == 0 and "--metrics-port" in worker.stdout
    limits = run_reel(["projects", "set-limits", "--help"], env)
    assert limits.returncode == 0 and "--submissions-per-minute" in limits.stdout


def test_cli__plugins_json_lists_generators_with_versions(env):
    done = run_reel(["plugins", "--json"], env)
    assert done.returncode == 0, done.stderr
    rows = {g["name"]: g for g in json.loads(done.stdout)["generators"]}
    assert rows["test.echo"]["version"] == "1.2.0" and rows["test.echo"]["params_schema"]["type"] == "object"


def doctor(env: dict[str, str], *args: str) -> tuple[int, dict[str, Any]]:
    done = run_reel(["doctor", "--json", *args], env)
    assert done.stdout.strip(), done.stderr
    return done.returncode, {c["name"]: c for c in json.loads(done.stdout)}


def test_doctor__a_healthy_distributed_install_passes(env, tmp_path):
    name, url = create_pg_database()
    try:
        from cryptography.fernet import Fernet

        env = {**env, "REEL_DATABASE_URL": url, "REEL_BROKER_URL": REDIS_URL,
               "REEL_SECRET_KEY": secrets.token_urlsafe(32), "REEL_ADMIN_KEY": secrets.token_urlsafe(32),
               "REEL_SEALING_KEYS": Fernet.generate_key().decode(), "REEL_METRICS_TOKEN": "m" * 32,
               "REEL_ENV": "production"}
        assert run_reel(["migrate"], env).returncode == 0
        # one default model in the Hub cache
        repo = tmp_path / "hub" / "models--suno--bark-small"
        (repo / "snapshots" / "abc").mkdir(parents=True)
        (repo / "blobs").mkdir()
        (repo / "blobs" / "weights").write_bytes(b"\0" * 4096)
        code, checks = doctor(env)
        assert code == 0, checks
        assert {n: c["status"] for n, c in checks.items() if n != "gpus"} == {
            "settings": "ok", "database": "ok", "broker": "ok", "storage": "ok", "plugins": "ok",
            "production": "ok", "models": "warn"}
        assert "schema up to date" in checks["database"]["detail"]
        assert "audio.bark: suno/bark-small" in checks["models"]["detail"].split("not cached")[0]
        assert "image.diffusers" in checks["models"]["detail"].split("not cached")[1]
    finally:
        drop_pg_database(name)


def test_doctor__names_what_is_broken_and_exits_1(env):
    dead = f"redis://127.0.0.1:{free_port()}/0"
    code, checks = doctor({**env, "REEL_BROKER_URL": dead}, "--plugins", "testplugin>=9")
    assert code == 1
    assert checks["broker"]["status"] == "fail" and "REEL_BROKER_URL" in checks["broker"]["fix"]
    assert checks["plugins"]["status"] == "fail" and "testplugin" in checks["plugins"]["detail"]
    assert checks["database"]["status"] == "warn" and "reel migrate" in checks["database"]["fix"]
    assert checks["production"]["status"] == "warn"  # development: only warned


def test_doctor__production_settings_refused_stop_the_checks(env):
    code, checks = doctor({**env, "REEL_ENV": "production", "REEL_ADMIN_KEY": secrets.token_hex(8)})
    assert code == 1 and list(checks) == ["settings"]
    assert "REEL_SECRET_KEY" in checks["settings"]["detail"]


def fake_cached(hub: Path, model: str, size: int) -> Path:
    repo = hub / ("models--" + model.replace("/", "--"))
    (repo / "snapshots" / "0123abc").mkdir(parents=True)
    (repo / "blobs").mkdir()
    (repo / "blobs" / "weights").write_bytes(b"\0" * size)
    return repo


def test_models__list_shows_each_generators_models_and_what_is_cached(env, tmp_path):
    fake_cached(tmp_path / "hub", "suno/bark-small", 2048)
    done = run_reel(["models", "list", "--json"], env)
    assert done.returncode == 0, done.stderr
    rows = {(r["generator"], r["model"]): r for r in json.loads(done.stdout)["models"]}
    bark = rows[("audio.bark", "suno/bark-small")]
    assert bark["default"] and bark["cached"] and bark["bytes"] == 2048
    assert not rows[("audio.bark", "suno/bark")]["cached"]
    assert any(g == "image.diffusers" and r["default"] for (g, _), r in rows.items())


def test_models__pull_without_the_hub_is_transient_and_names_the_cause(env):
    closed = f"http://127.0.0.1:{free_port()}"
    done = run_reel(["models", "pull", "suno/bark-small"], {**env, "HF_HUB_OFFLINE": "0", "HF_ENDPOINT": closed})
    assert done.returncode == 75, done.stderr
    assert "transient" in done.stderr and "127.0.0.1" in done.stderr
    offline = run_reel(["models", "pull", "suno/bark-small"], {**env, "HF_HUB_OFFLINE": "1"})
    assert offline.returncode == 75 and "HF_HUB_OFFLINE" in offline.stderr


def test_models__rm_deletes_a_cached_model(env, tmp_path):
    repo = fake_cached(tmp_path / "hub", "suno/bark-small", 100)
    done = run_reel(["models", "rm", "suno/bark-small", "--yes"], env)
    assert done.returncode == 0, done.stderr
    assert not repo.exists()
    assert run_reel(["models", "rm", "suno/bark-small", "--yes"], env).returncode == 1
