"""Generators this deployment offers, with their params schema and live carriers."""

from __future__ import annotations

from fastapi import APIRouter

from reel_host.api.access import PrincipalDep
from reel_host.api.deps import RuntimeDep, SessionDep, WorkerViewDep
from reel_host.schemas.tasks import PluginPublic, PluginsPublic
from reel_host.services.catalog import all_generators

router = APIRouter(prefix="/plugins", tags=["plugins"])


@router.get("", response_model=PluginsPublic)
def list_plugins(rt: RuntimeDep, session: SessionDep, view: WorkerViewDep, _who: PrincipalDep) -> PluginsPublic:
    view.refresh(session, rt, force=True)
    counts = view.counts(session, rt)
    data = [
        PluginPublic(**info.to_dict(), queue=info.queue, workers=counts.get(name, 0))
        for name, info in sorted(all_generators(session, rt, view).items())
    ]
    return PluginsPublic(data=data, failed=[p.to_dict() for p in rt.registry.failed])
