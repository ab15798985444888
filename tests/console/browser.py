"""A cookie-keeping HTTP client that behaves like the console in a browser (CSRF header included)."""

from __future__ import annotations

from typing import Any

import httpx


class Browser(httpx.Client):
    """Keeps the session cookie and sends ``X-CSRF-Token`` (from the ``reel_csrf`` cookie) on unsafe methods."""

    def __init__(self, base_url: str, csrf: bool = True) -> None:
        super().__init__(base_url=base_url + "/api/v1", timeout=30)
        self.csrf = csrf

    def request(self, method: str, url: Any, **kwargs: Any) -> httpx.Response:  # type: ignore[override]
        token = self.cookies.get("reel_csrf")
        if self.csrf and token and method.upper() not in ("GET", "HEAD", "OPTIONS"):
            kwargs["headers"] = {**(kwargs.get("headers") or {}), "X-CSRF-Token": token}
        return super().request(method, url, **kwargs)

    def signup(self, email: str, password: str = "correct horse battery", **extra: Any) -> httpx.Response:
        return self.post("/auth/signup", json={"email": email, "password": password, **extra})

    def login(self, email: str, password: str = "correct horse battery") -> httpx.Response:
        return self.post("/auth/login", json={"email": email, "password": password})
