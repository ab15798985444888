"""The hash-checked locks scripts/setup.sh installs from cover every dependency, within range.

(``scripts/lock.sh`` regenerates them; a fresh ``scripts/setup.sh --test`` run is the
end-to-end check, see docs/operations.md "Installing from the lock".)
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
DISTS = ["sdk", "host", "plugins/image", "plugins/video", "plugins/audio"]
NOT_LOCKED = {"torch"}  # the machine's own build: setup.sh installs it first


def locked(path: Path) -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes) of a pip-compile --generate-hashes file."""
    out: dict[str, tuple[str, list[str]]] = {}
    current = None
    for line in path.read_text().splitlines():
        pin = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s\\]+)", line)
        if pin:
            current = canonicalize_name(pin.group(1))
            out[current] = (pin.group(2), [])
        elif current and (h := re.search(r"--hash=(sha256:[0-9a-f]{64})", line)):
            out[current][1].append(h.group(1))
        elif line and not line.startswith((" ", "#")):
            pytest.fail(f"{path.name}: a requirement that is not pinned with hashes: {line!r}")
    return out


def direct_requirements() -> list[Requirement]:
    reqs = []
    for dist in DISTS:
        project = tomllib.loads((ROOT / dist / "pyproject.toml").read_text())["project"]
        reqs += [Requirement(r) for r in project["dependencies"]]
    return [r for r in reqs if not canonicalize_name(r.name).startswith("reel-")]


def test_lock__pins_every_dependency_of_the_distributions_with_hashes_within_its_range():
    lock = locked(ROOT / "requirements" / "lock.txt")
    for req in direct_requirements():
        name = canonicalize_name(req.name)
        if name in NOT_LOCKED:
            assert name not in lock
            continue
        assert name in lock, f"{req} is not in requirements/lock.txt: run scripts/lock.sh"
        version, hashes = lock[name]
        assert req.specifier.contains(version, prereleases=True), f"{name}=={version} is outside {req}"
        assert hashes, f"{name} has no hash"
    assert not any(name.startswith("reel-") for name in lock)  # Reel comes from the checkout


def test_lock__test_tooling_agrees_with_the_runtime_lock():
    runtime = locked(ROOT / "requirements" / "lock.txt")
    tests = locked(ROOT / "requirements" / "lock-test.txt")
    for name, (version, _) in tests.items():
        if name in runtime:
            assert runtime[name][0] == version, f"{name}: {version} in lock-test.txt, {runtime[name][0]} in lock.txt"
    for line in (ROOT / "requirements-test.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            assert canonicalize_name(Requirement(line).name) in tests, f"{line} is not in lock-test.txt"


def test_setup_script__installs_from_the_locks_with_hash_checking():
    script = (ROOT / "scripts" / "setup.sh").read_text()
    assert "--require-hashes --no-deps -r requirements/lock.txt" in script
    assert "--require-hashes --no-deps -r requirements/lock-test.txt" in script
    assert "torch==2.13.0" in script and "pip check" in script
