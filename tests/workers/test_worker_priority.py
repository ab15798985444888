"""Priority 0-9 through the Redis broker: higher runs first within a queue.

Distributed mode only: the embedded filesystem transport has no priorities (FIFO).
"""

from __future__ import annotations

from tests.utils.stack import make_stack


def test_priority__queued_before_any_worker__higher_runs_first(tmp_path):
    with make_stack("distributed", tmp_path) as stack:
        priorities = [0, 5, 9, 3, 9, 7, 1]
        tasks = [stack.submit(params={"text": f"p{p}"}, priority=p) for p in priorities]
        assert all(t["waiting_for_worker"] for t in tasks)
        stack.start_worker("testplugin", pool="late")  # one pool child: one task at a time
        done = [stack.follow(t["id"]) for t in tasks]
        assert all(d["status"] == "succeeded" for d in done)
        order = [d["priority"] for d in sorted(done, key=lambda d: d["started_at"])]
        assert order == sorted(priorities, reverse=True)
