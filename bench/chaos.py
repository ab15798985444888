"""Chaos bench: short tasks under faults, counted (not timed). Goal: 0 lost, 0 duplicated, 0 out of order.

    .venv/bin/python bench/chaos.py [--mode embedded|distributed|both] [--tasks 1000] [--kills 5]
                                    [--scenarios kills,redis,redis-aof,postgres,receiver]

Scenarios (each on a fresh stack: API in this process, `reel worker` processes, private
servers on free ports where one is restarted, never the machine's own):

- ``kills``: ``--tasks`` tasks, two workers; ``--kills`` times a random worker's whole
  process group is SIGKILLed midway and a new worker started (both modes);
- ``redis`` / ``redis-aof``: the broker (a private redis-server, without / with an
  append-only file) is restarted midway (distributed);
- ``postgres``: the records database (a private cluster) is stopped hard midway and
  started again seconds later (distributed);
- ``receiver``: every task has a webhook; the receiver refuses connections for a while
  midway, then comes back; callbacks arrive through `reel callbacks` (both modes).

For each it prints: submitted, succeeded, failed, lost (not finished when the run settles),
duplicated (a task with more than one successful run, or more output rows than outputs),
and, for ``receiver``, callbacks delivered and tasks whose callbacks arrived out of order.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reel_host.records.models import Task, TaskAttempt, TaskOutput  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from tests.utils.servers import PrivatePostgres, PrivateRedis  # noqa: E402
from tests.utils.stack import Stack, make_stack  # noqa: E402

FINISHED = ("succeeded", "failed", "cancelled")
QUICK = {"REEL_HEARTBEAT_S": "0.5", "REEL_WORKER_LOST_AFTER_S": "3", "REEL_CALLBACK_SCHEDULE_S": "0.5,1,2,2,2,2,2,2",
         "REEL_CALLBACK_ALLOW_PRIVATE": "true", "REEL_CALLBACK_SWEEP_S": "0.5"}


@dataclass
class Result:
    scenario: str
    mode: str
    submitted: int = 0
    succeeded: int = 0
    failed: int = 0
    lost: int = 0
    duplicated: int = 0
    callbacks: int | None = None
    out_of_order: int | None = None
    notes: list[str] = field(default_factory=list)

    def row(self) -> str:
        cb = "" if self.callbacks is None else f"  callbacks {self.callbacks:5d}  out of order {self.out_of_order}"
        cb += "".join(f"  ({note})" for note in self.notes)
        return (f"{self.scenario:<10} {self.mode:<12} submitted {self.submitted:5d}  succeeded {self.succeeded:5d}  "
                f"failed {self.failed:3d}  lost {self.lost:3d}  duplicated {self.duplicated:3d}{cb}")


def submit_all(stack: Stack, n: int, body: dict[str, Any] | None = None) -> list[str]:
    ids = []
    with stack.client() as c:
        for i in range(n):
            while True:
                r = c.post("/tasks/submit", json={"generator": "test.echo",
                                                   "params": {"text": f"t{i}", "steps": 2, "step_s": 0.01},
                                                   **(body or {})})
                if r.status_code == 202:
                    ids.append(r.json()["id"])
                    break
                time.sleep(0.2)  # 503 while a server is away: the client retries, as a CMS would
    return ids


def settle(stack: Stack, ids: list[str], timeout: float) -> dict[str, str]:
    """Wait until every task is finished or nothing moved for a while; return id → status."""
    deadline = time.monotonic() + timeout
    last_open, still_since = -1, time.monotonic()
    statuses: dict[str, str] = {}
    while time.monotonic() < deadline:
        try:
            with stack.runtime.sessions() as session:
                statuses = dict(session.execute(select(Task.id, Task.status).where(Task.id.in_(ids))).all())
        except Exception:
            time.sleep(0.5)
            continue
        open_ = sum(1 for s in statuses.values() if s not in FINISHED)
        if open_ == 0:
            break
        if open_ != last_open:
            last_open, still_since = open_, time.monotonic()
        elif time.monotonic() - still_since > 90:
            break  # nothing moves any more: what is open now is lost
        time.sleep(0.5)
    return statuses


def count(stack: Stack, ids: list[str], result: Result, statuses: dict[str, str]) -> Result:
    result.submitted = len(ids)
    if any(statuses.get(i) not in FINISHED for i in ids):  # show why, before the stack goes
        for proc in stack.workers:
            print(f"--- {proc.pool} (exit {proc.proc.poll()}) ---\n{proc.log()[-4000:]}", file=sys.stderr)
    c = Counter(statuses.get(i, "missing") for i in ids)
    result.succeeded, result.failed = c["succeeded"], c["failed"]
    result.lost = sum(v for k, v in c.items() if k not in FINISHED)
    with stack.runtime.sessions() as session:
        runs = dict(session.execute(
            select(TaskAttempt.task_id, func.count()).where(TaskAttempt.task_id.in_(ids),
                                                            TaskAttempt.status == "succeeded")
            .group_by(TaskAttempt.task_id)).all())
        outputs = dict(session.execute(
            select(TaskOutput.task_id, func.count()).where(TaskOutput.task_id.in_(ids))
            .group_by(TaskOutput.task_id)).all())
    result.duplicated = sum(1 for i in ids if runs.get(i, 0) > 1 or outputs.get(i, 0) > 1)
    return result


def midway(ids_so_far: list[str], n: int, fraction: float) -> None:
    while len(ids_so_far) < n * fraction:
        time.sleep(0.05)


def run_with_fault(stack: Stack, n: int, result: Result, fault: Any, at: float = 0.5,
                   body: dict[str, Any] | None = None) -> tuple[list[str], Result]:
    """Submit ``n`` tasks from a thread, call ``fault()`` once ``at`` of them are in, then count."""
    ids: list[str] = []
    t = threading.Thread(target=lambda: ids.extend(submit_all(stack, n, body)))
    t.start()
    midway(ids, n, at)
    fault()
    t.join()
    return ids, count(stack, ids, result, settle(stack, ids, 600))


def scenario_kills(mode: str, tmp: Path, n: int, kills: int) -> Result:
    with make_stack(mode, tmp, QUICK) as stack:
        for pool in ("k0", "k1"):
            stack.start_worker("testplugin", pool=pool)
        ids: list[str] = []
        t = threading.Thread(target=lambda: ids.extend(submit_all(stack, n)))
        t.start()
        rng = random.Random(7)
        for k in range(kills):
            time.sleep(rng.uniform(0.5, 2.0))
            alive = [w for w in stack.workers if w.proc.poll() is None]
            victim = rng.choice(alive)
            victim.kill_group(signal.SIGKILL)
            victim.proc.wait(10)
            stack.start_worker("testplugin", pool=f"k{k + 2}")
        t.join()
        return count(stack, ids, Result("kills", mode), settle(stack, ids, 600))


def scenario_redis(tmp: Path, n: int, aof: bool) -> Result:
    redis = PrivateRedis(tmp, persist=aof)
    redis.start()
    try:
        with make_stack("distributed", tmp, QUICK, broker_url=redis.url) as stack:
            stack.start_worker("testplugin", pool="r0")
            return run_with_fault(stack, n, Result("redis-aof" if aof else "redis", "distributed"),
                                  redis.restart)[1]
    finally:
        redis.stop()


def scenario_postgres(tmp: Path, n: int) -> Result:
    pg = PrivatePostgres(tmp)
    pg.start()
    try:
        with make_stack("distributed", tmp, QUICK, database_url=pg.url) as stack:
            stack.start_worker("testplugin", pool="p0")

            def outage() -> None:
                pg.stop("immediate")
                time.sleep(5)
                pg.start()

            return run_with_fault(stack, n, Result("postgres", "distributed"), outage)[1]
    finally:
        pg.remove()


def scenario_receiver(mode: str, tmp: Path, n: int) -> Result:
    from tests.callbacks.conftest import start_callbacks
    from tests.callbacks.receivers import Receiver

    receiver = Receiver().start()
    try:
        with make_stack(mode, tmp, QUICK) as stack:
            stack.start_worker("testplugin", pool="c0")
            start_callbacks(stack)
            body = {"callback": {"url": receiver.url(), "events": ["started", "succeeded", "failed", "cancelled"]}}
            ids: list[str] = []
            t = threading.Thread(target=lambda: ids.extend(submit_all(stack, n, body)))
            t.start()
            midway(ids, n, 0.3)
            receiver.stop()  # connections refused for a while
            time.sleep(5)
            receiver.start()  # back on the same port
            t.join()
            result = count(stack, ids, Result("receiver", mode), settle(stack, ids, 600))
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline and len(_finals(receiver)) < result.succeeded:
                time.sleep(0.5)
            result.callbacks = len(receiver.requests)
            result.out_of_order = _out_of_order(receiver)
            if len(_finals(receiver)) < result.succeeded:
                result.notes.append(f"{result.succeeded - len(_finals(receiver))} final callbacks not delivered")
            return result
    finally:
        receiver.stop()


def _finals(receiver: Any) -> set[str]:
    return {r.json()["data"]["id"] for r in receiver.requests if r.json()["type"] == "task.succeeded"}


def _out_of_order(receiver: Any) -> int:
    order = {"task.started": 0, "task.succeeded": 1, "task.failed": 1, "task.cancelled": 1}
    seen: dict[str, int] = {}
    bad: set[str] = set()
    for req in receiver.requests:
        body = req.json()
        task_id, rank = body["data"]["id"], order.get(body["type"], 0)
        if seen.get(task_id, -1) > rank:
            bad.add(task_id)
        seen[task_id] = max(seen.get(task_id, -1), rank)
    return len(bad)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", default="both", choices=["embedded", "distributed", "both"])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--scenarios", default="kills,redis,redis-aof,postgres,receiver")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    modes = ["embedded", "distributed"] if args.mode == "both" else [args.mode]
    wanted = args.scenarios.split(",")
    results: list[Result] = []
    for scenario in wanted:
        with tempfile.TemporaryDirectory(prefix=f"reel-chaos-{scenario}-") as d:
            tmp = Path(d)
            for i in range(len(modes)):
                (tmp / str(i)).mkdir()
            if scenario == "kills":
                for i, mode in enumerate(modes):
                    results.append(scenario_kills(mode, tmp / str(i), args.tasks, args.kills))
            elif scenario in ("redis", "redis-aof") and "distributed" in modes:
                results.append(scenario_redis(tmp, args.tasks, aof=scenario == "redis-aof"))
            elif scenario == "postgres" and "distributed" in modes:
                results.append(scenario_postgres(tmp, args.tasks))
            elif scenario == "receiver":
                for i, mode in enumerate(modes):
                    results.append(scenario_receiver(mode, tmp / str(i), args.tasks))
        print(results[-1].row(), flush=True)
    print("\n".join(r.row() for r in results))
    if args.json:
        args.json.write_text(json.dumps([r.__dict__ for r in results], indent=2))
    sys.exit(0 if all(r.lost == 0 and r.duplicated == 0 and not r.out_of_order for r in results) else 1)


if __name__ == "__main__":
    main()
