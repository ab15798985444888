"""Liveness and readiness (open: probes carry no key).

Everyone sees each component's state; why one fails (exception text naming hosts and
ports) goes to the log and to an admin-key caller only. Results are kept for
``_CACHE_S`` so a flood of probes does not become a flood of broker connections.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Literal

from fastapi import APIRouter, Request, Response
from sqlalchemy import text

from reel_host.api.deps import OptionalAdminDep, RuntimeDep
from reel_host.runtime import Runtime
from reel_host.schemas.tasks import HealthPublic

router = APIRouter(prefix="/health", tags=["health"])
log = logging.getLogger("reel.api.health")
_CACHE_S = 1.0
_lock = threading.Lock()


def _probe(rt: Runtime) -> dict[str, str]:
    """Each component's problem ("" when fine)."""
    problems: dict[str, str] = {}
    try:
        with rt.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        problems["database"] = ""
    except Exception as exc:
        problems["database"] = f"{type(exc).__name__}: {exc}"[:500]
    try:
        with rt.celery.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        problems["broker"] = ""
    except Exception as exc:
        problems["broker"] = f"{type(exc).__name__}: {exc}"[:500]
    try:
        rt.storage.check()
        problems["storage"] = ""
    except Exception as exc:
        problems["storage"] = f"{type(exc).__name__}: {exc}"[:500]
    for name, problem in problems.items():
        if problem:
            log.warning("health: %s is failing: %s", name, problem)
    return problems


@router.get("", response_model=HealthPublic, response_model_exclude_none=True,
            responses={503: {"model": HealthPublic, "description": "a component is failing"}})
def read_health(request: Request, rt: RuntimeDep, response: Response, admin: OptionalAdminDep) -> HealthPublic:
    """Readiness of the database, broker and storage (503 when one fails); details to the admin key."""
    now = time.monotonic()
    with _lock:
        cached = getattr(request.app.state, "health", None)
    if cached is None or now - cached[0] > _CACHE_S:
        cached = (now, _probe(rt))
        with _lock:
            request.app.state.health = cached
    problems = cached[1]
    checks: dict[str, Literal["ok", "failing"]] = {k: ("failing" if v else "ok") for k, v in problems.items()}
    ok = all(v == "ok" for v in checks.values())
    if not ok:
        response.status_code = 503
    details = {k: v for k, v in problems.items() if v} if admin else None
    return HealthPublic(status="ok" if ok else "degraded", checks=checks, details=details)
