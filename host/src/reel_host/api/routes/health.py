"""Liveness and readiness (open: probes carry no key)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from sqlalchemy import text

from reel_host.api.deps import RuntimeDep
from reel_host.schemas.tasks import HealthPublic

router = APIRouter(prefix="/health", tags=["health"])


@router.get("", response_model=HealthPublic)
def read_health(rt: RuntimeDep, response: Response) -> HealthPublic:
    checks: dict[str, str] = {}
    try:
        with rt.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {exc}"[:300]
    try:
        with rt.celery.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        checks["broker"] = "ok"
    except Exception as exc:
        checks["broker"] = f"error: {exc}"[:300]
    try:
        rt.storage.check()
        checks["storage"] = "ok"
    except Exception as exc:
        checks["storage"] = f"error: {exc}"[:300]
    ok = all(v == "ok" for v in checks.values())
    if not ok:
        response.status_code = 503
    return HealthPublic(status="ok" if ok else "degraded", checks=checks)
