"""Run one attempt of one task: claim it, load the model, generate, store, report.

The steps are numbered below. Every record write goes through the lifecycle
(:mod:`reel_host.lifecycle.runs`), fenced by attempt, so a cancelled or superseded run
can finish late without touching the record; its stored files are its own (keys carry
the attempt and run) and are removed again.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from celery.exceptions import Reject, SoftTimeLimitExceeded
from reel_sdk import Cancelled, GeneratorError, OutOfMemory, Output, TransientError

from reel_host.lifecycle import runs
from reel_host.lifecycle.fence import DB_ERRORS
from reel_host.lifecycle.lost import TIME_LIMIT_CODE, time_limit_message
from reel_host.lifecycle.runs import Claim
from reel_host.lifecycle.status import TaskStatus
from reel_host.records.models import TaskOutput
from reel_host.runtime import Runtime
from reel_host.storage import output_key, safe_name
from reel_host.worker.batching import gather_batch
from reel_host.worker.context import HostRunContext
from reel_host.worker.model_cache import ModelCache

log = logging.getLogger("reel.worker")


class RecordsUnavailable(Exception):
    """The claim could not reach the database: the message must go back to its queue."""


def run_message(runner: TaskRunner, task_id: str, attempt: int) -> str:
    """The body of the ``reel.run`` Celery task.

    A claim that cannot reach the database does not consume the message: it is rejected
    back to its queue after a pause (so a database outage is not a hot loop), and the
    reconciler would find the task anyway, since the record still says queued.
    """
    try:
        return runner.run(task_id, attempt)
    except RecordsUnavailable as exc:
        log.warning("%s; returning the message to its queue", exc)
        time.sleep(REQUEUE_PAUSE_S)
        raise Reject(str(exc), requeue=True) from exc


REQUEUE_PAUSE_S = 1.0


class TaskRunner:
    """Runs tasks in one worker process; keeps its model cache between them."""

    def __init__(self, rt: Runtime, worker_id: str, device: str = "cpu",
                 soft_limit_of: Callable[[str | None], float] | None = None,
                 cache: ModelCache | None = None) -> None:
        self.rt = rt
        self.worker_id = worker_id
        self.device = device
        self.soft_limit_of = soft_limit_of or (lambda _name: rt.settings.default_time_limit_s)
        self.cache = cache if cache is not None else ModelCache(rt.settings.model_cache_size)

    def preload(self, names: list[str] | None = None) -> None:
        """Load the default model of each generator in ``names`` (default all) (``reel worker --preload``)."""
        for name, gen in self.rt.registry.generators.items():
            if names is not None and name not in names:
                continue  # not taken by this worker (its hardware does not meet the requirements)
            try:
                self.cache.get(gen, gen.model_key(gen.Params.model_construct()), self.device)
            except Exception:
                log.exception("preloading the default model of %s failed", name)

    def run(self, task_id: str, attempt: int) -> str:
        """Run the attempt (with compatible queued tasks, where batching is on); return how it ended."""
        # 1. claim: queued → running for this worker (or drop a stale or duplicate message)
        try:
            claim = runs.claim(self.rt, task_id, attempt, self.worker_id)
        except DB_ERRORS as exc:
            raise RecordsUnavailable(f"cannot claim {task_id}: the records database is unavailable") from exc
        if claim is None:
            return "dropped"
        mates = gather_batch(self.rt, claim, self.worker_id)
        if mates:
            return self._run_batch([claim, *mates])
        workdir = Path(tempfile.mkdtemp(prefix=f"reel-{task_id}-"))
        ctx = HostRunContext(self.rt, claim, workdir, self.device)
        try:
            # 2-3. load (cached) and generate
            outputs = self._generate(claim, ctx)
            # 4-5. store the files under this run's keys, then record the outcome
            return self._succeed(claim, ctx, outputs)
        except BaseException as exc:
            return self._settle_error(claim, ctx, exc)
        finally:
            ctx.close()
            shutil.rmtree(workdir, ignore_errors=True)

    def _settle_error(self, claim: Claim, ctx: HostRunContext, exc: BaseException) -> str:
        """Record how a run failed, by the SDK's error table (re-raises what is not a run's failure)."""
        if isinstance(exc, Cancelled):
            runs.end_cancelled(self.rt, claim, ctx.take_logs())
            return "cancelled"
        if isinstance(exc, SoftTimeLimitExceeded):
            return self._fail(claim, ctx, TIME_LIMIT_CODE, time_limit_message(self.soft_limit_of(claim.task.generator)))
        if isinstance(exc, TransientError):
            if isinstance(exc, OutOfMemory):
                self.cache.clear()
            return runs.retry_later(self.rt, claim, exc.code, exc.message, ctx.take_logs())
        if isinstance(exc, GeneratorError):
            return self._fail(claim, ctx, exc.code, exc.message)
        if isinstance(exc, Exception):  # a plugin bug: fail the task, keep the worker
            log.error("generator %s failed on %s", claim.task.generator, claim.task.id, exc_info=exc)
            return self._fail(claim, ctx, "generator_error", f"{type(exc).__name__}: {exc}")
        raise exc

    def _run_batch(self, claims: list[Claim]) -> str:
        """2-5 for several compatible tasks in one ``generate_batch`` call; each task ends alone."""
        gen = self.rt.registry.get(claims[0].task.generator)
        assert gen is not None
        ctxs = [HostRunContext(self.rt, c, Path(tempfile.mkdtemp(prefix=f"reel-{c.task.id}-")), self.device)
                for c in claims]
        outcomes: list[str] = []
        ids = ", ".join(c.task.id for c in claims)
        for ctx in ctxs:
            ctx.log.info("running in a batch of %d tasks (%s)", len(claims), ids)
        try:
            params = [gen.parse_params(c.task.params) for c in claims]
            model = self.cache.get(gen, gen.model_key(params[0]), self.device)
            results = gen.generate_batch(model, params, list(ctxs))
            if len(results) != len(claims):
                raise GeneratorError(f"generator {gen.name!r} returned {len(results)} results for {len(claims)} tasks")
        except BaseException as exc:  # the whole batch failed: each task by the same error
            results = [exc] * len(claims)
        try:
            for claim, ctx, result in zip(claims, ctxs, results, strict=True):
                if isinstance(result, BaseException):
                    outcomes.append(self._settle_error(claim, ctx, result))
                    continue
                try:
                    _check_outputs(gen.name, result)
                    outcomes.append(self._succeed(claim, ctx, result))
                except BaseException as exc:
                    outcomes.append(self._settle_error(claim, ctx, exc))
        finally:
            for ctx in ctxs:
                ctx.close()
                shutil.rmtree(ctx.workdir, ignore_errors=True)
        log.info("batch of %d %s tasks: %s", len(claims), gen.name, Counter(outcomes))
        return outcomes[0]

    def _generate(self, claim: Claim, ctx: HostRunContext) -> list[Output]:
        task = claim.task
        gen = self.rt.registry.get(task.generator)
        if gen is None:
            raise GeneratorError(f"generator {task.generator!r} is not installed on worker {self.worker_id}")
        params = gen.parse_params(task.params)
        ctx.check_cancelled()
        key = gen.model_key(params)
        if not self.cache.holds(gen, key, self.device):
            ctx.progress(0.0, "loading model")
        model = self.cache.get(gen, key, self.device)
        outputs = gen.generate(model, params, ctx)
        _check_outputs(task.generator, outputs)
        return outputs

    def _succeed(self, claim: Claim, ctx: HostRunContext, outputs: list[Output]) -> str:
        task = claim.task
        stored: list[TaskOutput] = []
        taken: set[str] = set()
        try:
            for position, out in enumerate(outputs):
                name = _unique(safe_name(out.name or out.path.name), taken)  # unique after sanitising
                key = output_key(task.project_id, task.id, name, claim.attempt, claim.run)
                size = self.rt.storage.put(key, out.path, out.media_type)
                stored.append(TaskOutput(task_id=task.id, position=position, name=name, storage_key=key,
                                         media_type=out.media_type, bytes=size, meta=dict(out.metadata)))
        except BaseException:  # an upload failed or the run was stopped: its files are nobody's
            self._discard(stored)
            raise
        if runs.finish(self.rt, claim, TaskStatus.SUCCEEDED, outputs=stored, logs=ctx.take_logs()):
            return "succeeded"
        self._discard(stored)  # cancelled or superseded meanwhile: the record is the truth
        return "discarded"

    def _discard(self, stored: list[TaskOutput]) -> None:
        for row in stored:  # this run's own keys only
            try:
                self.rt.storage.delete(row.storage_key)
            except Exception:
                log.warning("could not delete %s of a discarded run", row.storage_key)

    def _fail(self, claim: Claim, ctx: HostRunContext, code: str, message: str) -> str:
        done = runs.finish(self.rt, claim, TaskStatus.FAILED, code, message, logs=ctx.take_logs())
        return "failed" if done else "cancelled"


def _check_outputs(generator: str, outputs: list[Output]) -> None:
    for out in outputs:
        if not isinstance(out, Output) or not out.path.is_file():
            raise GeneratorError(f"generator {generator!r} returned a missing output: {out!r}")


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 1
    while candidate in taken:
        stem, dot, ext = name.rpartition(".")
        candidate = f"{stem}-{n}.{ext}" if dot else f"{name}-{n}"
        n += 1
    taken.add(candidate)
    return candidate
