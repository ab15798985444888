"""Stacks for the security tests: an API with an admin key, in both modes, without workers."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from tests.utils.stack import Stack, make_stack

ADMIN_KEY = "adm_" + secrets.token_urlsafe(24)


@pytest.fixture(scope="module", params=["embedded", pytest.param("distributed", marks=pytest.mark.postgres)])
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """An API server (no worker) with REEL_ADMIN_KEY set; ``api.key`` is project ``default``'s key."""
    with make_stack(request.param, tmp_path_factory.mktemp(f"sec-{request.param}"),
                    {"REEL_ADMIN_KEY": ADMIN_KEY}) as s:
        yield s
