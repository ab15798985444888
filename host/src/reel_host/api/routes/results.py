"""Deleting a finished task: its record and its stored files (the console's gallery)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from sqlalchemy import delete

from reel_host.api.access import TaskProjectDep
from reel_host.api.deps import RuntimeDep, SessionDep
from reel_host.errors import Conflict
from reel_host.records.db import rowcount
from reel_host.records.models import FINISHED, Task
from reel_host.services import tasks as service

router = APIRouter(prefix="/tasks", tags=["tasks"])


@router.delete("/{task_id}", status_code=204)
def delete_task(task_id: str, rt: RuntimeDep, session: SessionDep, project: TaskProjectDep) -> Response:
    """Delete a finished task with its outputs, logs and attempts (409 while it is queued or running)."""
    task = service.get_task(session, project, task_id)
    if task.status not in FINISHED:
        raise Conflict(f"task {task_id!r} is {task.status}; cancel it before deleting it", code="task_not_finished")
    # fenced like a lifecycle transition: a retry that won the race keeps its task
    gone = session.execute(delete(Task).where(Task.id == task.id, Task.status.in_(FINISHED)))
    if rowcount(gone) == 0:
        session.rollback()
        raise Conflict(f"task {task_id!r} is running again; cancel it before deleting it", code="task_not_finished")
    session.commit()
    rt.storage.delete_prefix(f"projects/{task.project_id}/tasks/{task.id}/")  # after the record: no dangling row
    return Response(status_code=204)
