"""ruff, configured at the root, is clean on every package."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_is_clean():
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed")
    result = subprocess.run([ruff, "check", "sdk", "host", "plugins", "tests", "bench"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_api_prefix_is_written_once():
    """Routes, file URLs, event-stream URLs, callback messages and the CLI use reel_host.paths.API_PREFIX."""
    from reel_host.paths import API_PREFIX

    source = ROOT / "host" / "src" / "reel_host"
    written = [str(p.relative_to(ROOT)) for p in source.rglob("*.py") if API_PREFIX in p.read_text()]
    assert written == ["host/src/reel_host/paths.py"]
