"""Stacks for the console's accounts: embedded with invite-only signup, and distributed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.console.browser import Browser
from tests.utils.stack import Stack, make_stack

PASSWORD = "correct horse battery"
LOGIN_BURST = 10


@pytest.fixture(scope="module")
def console_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Embedded, invite-only signup, one worker with the test plugin; nobody has signed up yet."""
    env = {"REEL_SIGNUP": "invite", "REEL_LOGIN_BURST": str(LOGIN_BURST), "REEL_LOGIN_RATE_PER_S": "0.001",
           "REEL_LOGIN_ADDRESS_BURST": "1000"}
    with make_stack("embedded", tmp_path_factory.mktemp("console"), env) as s:
        s.start_worker("testplugin", pool="main")
        yield s


@pytest.fixture(scope="module")
def admin(console_stack: Stack) -> Browser:
    """The first account of the instance: admin and owner of ``default``."""
    b = Browser(console_stack.url)
    r = b.signup("Admin@Example.com", PASSWORD)
    assert r.status_code == 201, r.text
    return b


def invite_and_signup(stack: Stack, owner: Browser, project: str, email: str, role: str = "member") -> Browser:
    r = owner.post(f"/projects/{project}/invitations", json={"email": email, "role": role})
    assert r.status_code == 201, r.text
    token = r.json()["link"].rsplit("/", 1)[1]
    b = Browser(stack.url)
    r = b.signup(email, PASSWORD, invitation=token)
    assert r.status_code == 201, r.text
    return b
