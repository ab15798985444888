"""Run one attempt of one task: claim it, load the model, generate, store, report.

Every write is fenced by (task id, attempt, status running), so a cancelled or
superseded run can finish late without touching the record.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from celery.exceptions import SoftTimeLimitExceeded
from reel_sdk import Cancelled, GeneratorError, OutOfMemory, Output, TransientError
from sqlalchemy import update
from sqlalchemy.orm import Session

from reel_host.records.db import rowcount
from reel_host.records.models import Task, TaskAttempt, TaskOutput, Worker, utcnow
from reel_host.runtime import Runtime
from reel_host.services.catalog import live_cutoff
from reel_host.services.events import TaskEvents
from reel_host.services.tasks import dispatch
from reel_host.storage import output_key
from reel_host.worker.context import HostRunContext
from reel_host.worker.model_cache import ModelCache
from reel_host.worker.requests import TIME_LIMIT_CODE, time_limit_message

log = logging.getLogger("reel.worker")


@dataclass
class Claim:
    task: Task
    run: int


class TaskRunner:
    """Runs tasks in one worker process; keeps its model cache between them."""

    def __init__(self, rt: Runtime, worker_id: str, device: str = "cpu",
                 soft_limit_of: Callable[[str | None], float] | None = None) -> None:
        self.rt = rt
        self.worker_id = worker_id
        self.device = device
        self.soft_limit_of = soft_limit_of or (lambda _name: rt.settings.default_time_limit_s)
        self.cache = ModelCache(rt.settings.model_cache_size)
        self.events = TaskEvents(rt)
        self._ctx: HostRunContext | None = None

    def preload(self, names: list[str] | None = None) -> None:
        """Load the default model of each generator in ``names`` (default all) (``reel worker --preload``)."""
        for name, gen in self.rt.registry.generators.items():
            if names is not None and name not in names:
                continue  # not taken by this worker (its hardware does not meet the requirements)
            try:
                self.cache.get(gen, gen.model_key(gen.Params.model_construct()), self.device)
            except Exception:
                log.exception("preloading the default model of %s failed", name)

    # 1. claim ---------------------------------------------------------------------
    def claim(self, session: Session, task_id: str, attempt: int) -> Claim | None:
        task = session.get(Task, task_id)
        if task is None or task.attempts != attempt:
            log.info("dropping %s attempt %s: superseded or unknown", task_id, attempt)
            return None
        now = utcnow()
        run = task.lost_runs
        if task.status == "running":
            # Redelivered while the record says running: the previous run's worker died,
            # unless that worker is alive and still on it (a duplicate delivery).
            if task.worker_id and task.worker_id != self.worker_id and self._still_running(session, task):
                log.warning("dropping duplicate delivery of %s: %s still runs it", task_id, task.worker_id)
                return None
            run = task.lost_runs + 1
            self._close_open_attempts(session, task, "lost", "worker_lost", "the worker running it was lost")
            if run > self.rt.settings.worker_lost_max:
                self._finish(session, task, attempt, "failed", "worker_lost_repeatedly",
                             f"the task's worker died {run} times (limit {self.rt.settings.worker_lost_max}); "
                             "it may be killing its worker (out of memory?)")
                return None
            fence = (Task.status == "running",)
        elif task.status == "queued":
            fence = (Task.status == "queued",)
        else:
            log.info("dropping %s: it is %s", task_id, task.status)
            return None
        done = session.execute(
            update(Task).where(Task.id == task_id, Task.attempts == attempt, *fence).values(
                status="running", started_at=now, worker_id=self.worker_id, lost_runs=run,
                message="running", updated_at=now)
        )
        if rowcount(done) == 0:
            session.rollback()
            return None
        session.add(TaskAttempt(task_id=task_id, number=attempt, run=run, worker_id=self.worker_id))
        session.execute(update(Worker).where(Worker.id == self.worker_id).values(current_task_id=task_id))
        session.refresh(task)
        self.events.emit(session, task, "started")
        session.commit()
        return Claim(task, run)

    def _still_running(self, session: Session, task: Task) -> bool:
        worker = session.get(Worker, task.worker_id)
        return bool(worker and worker.status == "online" and worker.current_task_id == task.id
                    and worker.last_heartbeat >= live_cutoff(self.rt))

    # 2-5. run ---------------------------------------------------------------------
    def run(self, task_id: str, attempt: int) -> str:
        """Run the attempt; return how it ended (for logs and tests)."""
        with self.rt.sessions() as session:
            claim = self.claim(session, task_id, attempt)
        if claim is None:
            return "dropped"
        task = claim.task
        workdir = Path(tempfile.mkdtemp(prefix=f"reel-{task_id}-"))
        ctx = self._ctx = HostRunContext(self.rt, task, attempt, workdir, self.device)
        outcome = "failed"
        try:
            outputs = self._generate(task, ctx)
            outcome = self._succeed(task, attempt, outputs)
            return outcome
        except Cancelled:
            outcome = self._end_cancelled(task, attempt, claim.run)
        except SoftTimeLimitExceeded:
            outcome = self._fail(task, attempt, TIME_LIMIT_CODE,
                                 time_limit_message(self.soft_limit_of(task.generator)))
        except TransientError as exc:
            if isinstance(exc, OutOfMemory):
                self.cache.clear()
            outcome = self._retry_or_fail(task, attempt, exc)
        except GeneratorError as exc:
            outcome = self._fail(task, attempt, exc.code, exc.message)
        except Exception as exc:  # a plugin bug: fail the task, keep the worker
            log.exception("generator %s failed on %s", task.generator, task_id)
            outcome = self._fail(task, attempt, "generator_error", f"{type(exc).__name__}: {exc}")
        finally:
            self._ctx = None
            ctx.close()
            shutil.rmtree(workdir, ignore_errors=True)
            if outcome not in ("succeeded", "failed"):  # _finish already cleared it otherwise
                with self.rt.sessions() as session:
                    session.execute(update(Worker).where(Worker.id == self.worker_id,
                                                         Worker.current_task_id == task_id)
                                    .values(current_task_id=None))
                    session.commit()
        return outcome

    def _generate(self, task: Task, ctx: HostRunContext) -> list[Output]:
        gen = self.rt.registry.get(task.generator)
        if gen is None:
            raise GeneratorError(f"generator {task.generator!r} is not installed on worker {self.worker_id}")
        params = gen.parse_params(task.params)
        ctx.check_cancelled()
        key = gen.model_key(params)
        if not self.cache.holds(gen, key, self.device):
            ctx.progress(0.0, "loading model")
        model = self.cache.get(gen, key, self.device)
        ctx.progress(0.0, "generating")
        outputs = gen.generate(model, params, ctx)
        for out in outputs:
            if not isinstance(out, Output) or not out.path.is_file():
                raise GeneratorError(f"generator {task.generator!r} returned a missing output: {out!r}")
        return outputs

    def _succeed(self, task: Task, attempt: int, outputs: list[Output]) -> str:
        stored: list[TaskOutput] = []
        names: set[str] = set()
        for position, out in enumerate(outputs):
            name = _unique(out.name or out.path.name, names)
            key = output_key(task.project_id, task.id, name)
            size = self.rt.storage.put(key, out.path, out.media_type)
            stored.append(TaskOutput(task_id=task.id, position=position, name=name, storage_key=key,
                                     media_type=out.media_type, bytes=size, meta=dict(out.metadata)))
        with self.rt.sessions() as session:
            if self._finish(session, task, attempt, "succeeded", None, None, outputs=stored):
                return "succeeded"
        for row in stored:  # cancelled meanwhile: the record is the truth, discard the late result
            self.rt.storage.delete(row.storage_key)
        return "discarded"

    def _finish(self, session: Session, task: Task, attempt: int, status: str, code: str | None,
                message: str | None, outputs: list[TaskOutput] | None = None) -> bool:
        now = utcnow()
        done = session.execute(
            update(Task).where(Task.id == task.id, Task.attempts == attempt, Task.status == "running").values(
                status=status, error_code=code, error_message=message, finished_at=now, updated_at=now,
                progress=1.0 if status == "succeeded" else Task.progress,
                message={"succeeded": "done", "failed": "failed"}.get(status, status))
        )
        if rowcount(done) == 0:
            session.rollback()
            return False
        session.add_all(outputs or [])
        if self._ctx is not None:
            self._ctx.flush_logs_into(session)  # the run's last log lines land with its outcome
        self._close_open_attempts(session, task, status, code, message)
        session.execute(update(Worker).where(Worker.id == self.worker_id, Worker.current_task_id == task.id)
                        .values(current_task_id=None))
        session.flush()
        current = session.get(Task, task.id, populate_existing=True)
        if current is not None:
            self.events.emit(session, current, status)
        session.commit()
        return True

    @staticmethod
    def _close_open_attempts(session: Session, task: Task, status: str, code: str | None, message: str | None):
        session.execute(
            update(TaskAttempt).where(TaskAttempt.task_id == task.id, TaskAttempt.finished_at.is_(None))
            .values(status=status, error_code=code, error_message=message, finished_at=utcnow())
        )

    def _fail(self, task: Task, attempt: int, code: str, message: str) -> str:
        with self.rt.sessions() as session:
            self._finish(session, task, attempt, "failed", code, message)
        return "failed"

    def _end_cancelled(self, task: Task, attempt: int, run: int) -> str:
        # only this run's row: a superseded run must not close the row of the run that replaced it
        with self.rt.sessions() as session:
            current = session.get(Task, task.id)
            why = "task was cancelled" if current is None or current.status == "cancelled" else "run was superseded"
            session.execute(
                update(TaskAttempt).where(TaskAttempt.task_id == task.id, TaskAttempt.number == attempt,
                                          TaskAttempt.run == run, TaskAttempt.finished_at.is_(None))
                .values(status="cancelled", error_code="cancelled", error_message=why, finished_at=utcnow())
            )
            session.commit()
        return "cancelled"

    def _retry_or_fail(self, task: Task, attempt: int, exc: TransientError) -> str:
        s = self.rt.settings
        with self.rt.sessions() as session:
            current = session.get(Task, task.id)
            if current is None or current.auto_retries >= s.transient_retries:
                tried = (current.auto_retries if current else 0) + 1
                self._finish(session, task, attempt, "failed", exc.code, f"{exc.message} (gave up after {tried} tries)")
                return "failed"
            delay = min(s.retry_backoff_s * 2 ** current.auto_retries, s.retry_backoff_max_s)
            now = utcnow()
            done = session.execute(
                update(Task).where(Task.id == task.id, Task.attempts == attempt, Task.status == "running").values(
                    status="queued", attempts=attempt + 1, auto_retries=Task.auto_retries + 1,
                    message=f"retrying in {delay:g}s after {exc.code}: {exc.message}"[:1000],
                    queued_at=now + timedelta(seconds=delay), updated_at=now, worker_id=None)
            )
            if rowcount(done) == 0:
                session.rollback()
                return "cancelled"
            self._close_open_attempts(session, task, "retrying", exc.code, exc.message)
            session.commit()
            session.refresh(current)
            dispatch(session, self.rt, current, countdown=delay)
        return "retrying"


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 1
    while candidate in taken:
        stem, dot, ext = name.rpartition(".")
        candidate = f"{stem}-{n}.{ext}" if dot else f"{name}-{n}"
        n += 1
    taken.add(candidate)
    return candidate
