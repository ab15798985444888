"""PostgreSQL stopped in the middle of a run of tasks: the API says 503, nothing is lost.

A private cluster on a free port (never the machine's own) is stopped hard while a worker
is claiming and finishing tasks, then started again. Claims that could not reach the
database put their message back, outcome writes are retried, the API answers 503 with
``Retry-After`` meanwhile, and every task ends ``succeeded`` without a restart.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from tests.utils.servers import PrivatePostgres
from tests.utils.stack import make_stack

OUTAGE_S = 4.0  # how long the database stays down (the fault being simulated, not a wait for a result)


def test_database_outage_mid_run__503_meanwhile__every_task_succeeds(tmp_path: Path) -> None:
    pg = PrivatePostgres(tmp_path)
    pg.start()
    try:
        with make_stack("distributed", tmp_path, database_url=pg.url) as stack:
            stack.start_worker("testplugin", pool="db-outage")
            ids = [stack.submit(params={"text": f"t{i}", "steps": 3, "step_s": 0.05})["id"] for i in range(30)]
            pg.stop("immediate")
            try:
                with httpx.Client(base_url=stack.url + "/api/v1", timeout=30,
                                  headers={"Authorization": f"Bearer {stack.key}"}) as c:
                    during = c.get(f"/tasks/{ids[-1]}/status")
                assert during.status_code == 503, during.text
                assert during.json()["error"]["code"] == "database_unavailable"
                assert during.headers["Retry-After"].isdigit()
                time.sleep(OUTAGE_S)
            finally:
                pg.start()
            finals = [stack.follow(task_id, timeout=120) for task_id in ids]
    finally:
        pg.remove()
    assert [f["status"] for f in finals] == ["succeeded"] * 30, [(f["id"], f["status"], f["error"]) for f in finals]
