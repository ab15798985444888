"""The console's own checks, run by the one test command: type check and Vitest component tests,
and the API client's types are what the OpenAPI document generates today."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CONSOLE = Path(__file__).resolve().parents[2] / "host" / "console"
pytestmark = pytest.mark.skipif(shutil.which("node") is None or shutil.which("npm") is None,
                                reason="Node.js and npm are not installed")


def npm(*args: str, timeout: float = 600, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["npm", *args], cwd=CONSOLE, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "CI": "true", **(env or {})})


@pytest.fixture(scope="module")
def node_modules() -> None:
    if not (CONSOLE / "node_modules").is_dir():  # scripts/setup.sh installs them; a bare checkout too
        done = npm("ci", "--no-audit", "--no-fund")
        assert done.returncode == 0, done.stdout + done.stderr


def test_console__typecheck_and_component_tests(node_modules):
    done = npm("test")
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    assert "passed" in done.stdout


def test_console__api_types_match_the_openapi_document(node_modules, tmp_path):
    spec = subprocess.run([sys.executable, "-m", "reel_host.cli.main", "openapi"], capture_output=True, text=True,
                          check=True).stdout
    (tmp_path / "openapi.json").write_text(spec)
    out = tmp_path / "schema.d.ts"
    done = subprocess.run(["npx", "openapi-typescript", str(tmp_path / "openapi.json"), "--default-non-nullable=false",
                           "-o", str(out)], cwd=CONSOLE, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    committed = (CONSOLE / "src" / "api" / "schema.d.ts").read_text()
    assert out.read_text() == committed, "the API changed: run host/console/scripts/gen-api.sh and commit"
