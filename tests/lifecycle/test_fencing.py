"""Fences that keep a late or superseded run from touching the truth.

- storage: a run stores under its own attempt/run segment, so a late upload after
  cancel → retry can neither overwrite nor delete the new attempt's files;
- names that sanitise alike stay distinct;
- a soft time limit never lands inside a record write;
- liveness follows the database's clock, not a worker's.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from reel_host.lifecycle import workers
from reel_host.lifecycle.fence import shielded
from reel_host.storage import output_key, safe_name
from reel_host.worker.execute import _unique

from tests.utils.stack import Stack, make_stack

QUICK_LOSS = {"REEL_HEARTBEAT_S": "0.3", "REEL_WORKER_LOST_AFTER_S": "2"}


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with make_stack("distributed", tmp_path_factory.mktemp("fencing"), QUICK_LOSS) as stack:
        stack.start_worker("testplugin", pool="a")
        stack.start_worker("testplugin", pool="b")
        yield stack


def test_late_upload_after_cancel_and_retry_cannot_touch_the_new_attempts_files(two_workers: Stack) -> None:
    stack = two_workers
    task = stack.submit("test.slow", params={"seconds": 4, "stubborn": True})  # ignores cancellation and its limit
    stack.follow(task["id"], until=("running",))
    with stack.client() as c:
        first_worker = c.get(f"/tasks/{task['id']}/attempts").json()[-1]["worker"]
    late = next(w for w in stack.workers if first_worker.startswith(w.pool + "@"))
    late.kill_group(signal.SIGSTOP)  # the first run is paused mid-generate
    try:
        with stack.client() as c:
            assert c.delete(f"/tasks/{task['id']}/cancel").status_code == 200
            assert c.post(f"/tasks/{task['id']}/retry").status_code == 202
        done = stack.follow(task["id"], timeout=60)  # attempt 2 runs on the other worker
    finally:
        late.kill_group(signal.SIGCONT)  # the paused run resumes, uploads its file late, and is discarded
    assert (done["status"], done["attempts"]) == ("succeeded", 2), done
    stack.follow(task["id"], timeout=30, where=lambda _t: _first_run_closed(stack, task["id"]))
    with stack.client() as c:
        final = c.get(f"/tasks/{task['id']}/status").json()
    [output] = final["outputs"]
    download = httpx.get(output["url"])
    assert download.status_code == 200 and download.text.startswith("slept")


def _first_run_closed(stack: Stack, task_id: str) -> bool:
    with stack.client() as c:
        attempts = c.get(f"/tasks/{task_id}/attempts").json()
    return attempts[0]["finished_at"] is not None


def test_output_names_that_sanitise_alike_stay_distinct() -> None:
    taken: set[str] = set()
    names = [_unique(safe_name(n), taken) for n in ("a b.png", "a_b.png", "a?b.png", "../a b.png")]
    assert len(set(names)) == 4
    keys = {output_key("p", "tsk_1", n, attempt=2, run=1) for n in names}
    assert len(keys) == 4 and all(k.startswith("projects/p/tasks/tsk_1/a2r1/") for k in keys)


def test_soft_time_limit_waits_until_the_record_write_is_done() -> None:
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals are delivered to the main thread")

    class Limit(Exception):
        pass

    def raise_limit(_signum, _frame):  # what billiard's soft-limit handler does
        raise Limit

    previous = signal.signal(signal.SIGUSR1, raise_limit)
    steps = []
    try:
        with pytest.raises(Limit), shielded():
            os.kill(os.getpid(), signal.SIGUSR1)
            steps.append("first statement")
            steps.append("commit")  # the write completes although the limit fired inside it
        steps.append("after")  # pytest.raises saw the limit only once the shield was down
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert steps == ["first statement", "commit", "after"]  # raised after the commit, not inside


def test_liveness_follows_the_database_clock_not_the_workers(stack: Stack, monkeypatch) -> None:
    """A worker whose clock is an hour off is still online (stamps and cutoffs are the database's)."""
    from reel_host.lifecycle import fence

    skewed = fence.utcnow() - timedelta(hours=1)
    if stack.mode == "distributed":
        monkeypatch.setattr(fence, "utcnow", lambda: skewed)  # only PostgreSQL has a clock of its own
    with stack.runtime.sessions() as session:
        workers.beat(session, "skewed@host.1", {"pool": "skewed", "generators": []}, ready=True)
    with stack.client() as c:
        me = next(w for w in c.get("/workers/status").json()["data"] if w["id"] == "skewed@host.1")
    assert me["status"] == "online"
    with stack.runtime.sessions() as session:
        workers.stopped(session, "skewed@host.1")


