"""Shared fixtures: real Reel stacks (API + Celery workers) in embedded and distributed mode."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.utils.stack import Stack, make_stack

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session", params=["embedded", "distributed"])
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A running stack with one worker carrying the test plugin, shared per session and mode."""
    with make_stack(request.param, tmp_path_factory.mktemp(f"stack-{request.param}")) as s:
        s.start_worker("testplugin", pool="main")
        yield s
