"""The `reel` command as an operator and a user run it: up, projects, keys, submit --wait."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.utils.stack import free_port

REEL = [sys.executable, "-m", "reel_host.cli.main"]


def run_reel(args: list[str], env: dict[str, str], **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*REEL, *args], env=env, capture_output=True, text=True, timeout=120, **kw)


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "REEL_HOME": str(tmp_path / "home")}


def test_projects_and_keys__key_printed_alone_and_stored_hashed(cli_env, tmp_path):
    assert run_reel(["projects", "create", "films"], cli_env).stdout.strip() == "films"
    dup = run_reel(["projects", "create", "films"], cli_env)
    assert dup.returncode == 1 and "already exists" in dup.stderr
    out = run_reel(["keys", "create", "--project", "films"], cli_env)
    key = out.stdout.strip()
    assert out.returncode == 0 and key.startswith("reel_") and "\n" not in key
    assert key.encode() not in (tmp_path / "home" / "reel.db").read_bytes()
    missing = run_reel(["keys", "create", "--project", "nope"], cli_env)
    assert missing.returncode == 1 and "does not exist" in missing.stderr


def test_plugins_command__lists_installed_generators(cli_env):
    out = run_reel(["plugins"], cli_env)
    assert "test.echo" in out.stdout and "reel-test-plugin" in out.stdout


def test_worker__unsatisfiable_pin_refuses_to_start(cli_env):
    out = run_reel(["worker", "--plugins", "testplugin>=9"], cli_env)
    assert out.returncode == 2
    assert "does not satisfy" in out.stderr


def test_up__serves_api_and_worker_and_submit_waits_for_outputs(cli_env):
    port = free_port()
    proc = subprocess.Popen([*REEL, "up", "--port", str(port)], env=cli_env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        key, url = None, None
        deadline = time.monotonic() + 60
        while key is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if line.startswith("Reel is up at"):
                url = line.split()[4]
            if line.startswith("API key:"):
                key = line.split(":", 1)[1].strip()
        assert key and url == f"http://127.0.0.1:{port}"
        env = {**cli_env, "REEL_URL": url, "REEL_API_KEY": key}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/api/v1/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        out = run_reel(["submit", "test.echo", "--param", "text=from the cli", "--param", "steps=3", "--wait"], env)
        assert out.returncode == 0, out.stderr
        urls = out.stdout.split()
        assert len(urls) == 1 and httpx.get(urls[0]).text == "from the cli"
        bad = run_reel(["submit", "test.echo", "--param", "steps=3"], env)
        assert bad.returncode == 1 and "text" in bad.stderr
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
