"""Downloads of locally stored outputs at signed, expiring URLs."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse

from reel_host.api.deps import RuntimeDep
from reel_host.errors import NotFound
from reel_host.storage.local import LocalStorage

router = APIRouter(prefix="/files", tags=["files"])


@router.get("/{token}", response_class=FileResponse, responses={404: {"description": "bad or expired link"}})
def download_file(token: str, rt: RuntimeDep) -> FileResponse:
    storage = rt.storage
    payload = rt.signer.read_file(token)
    if payload is None or not isinstance(storage, LocalStorage):
        raise NotFound("this download link is invalid or has expired", code="link_expired")
    path = storage.path_of(payload["k"])
    if not path.is_file():
        raise NotFound("the file is gone", code="file_not_found")
    return FileResponse(path, media_type=payload["t"], filename=payload["n"])
