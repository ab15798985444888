"""No-op task round trip and throughput: Reel's REST API against bare Celery, same machine, same run.

    .venv/bin/python bench/roundtrip.py [--n 200] [--burst 300]

Both sides use the machine's Redis (own DB number / key prefix) and one prefork worker
process. Reel's side goes through everything a client sees: HTTP submit with an API key,
params validation, the task record in PostgreSQL, the broker, the worker's fenced claim,
the run, output storage and the finishing update, and the client learns the result by
one request: `POST /tasks/submit` with `Prefer: wait=30`, answered when the task ends
(pushed to the API by PostgreSQL NOTIFY). The burst goes in batches of 100 through
`POST /tasks/submit_batch`. The API runs as `reel serve` in its own process. Bare Celery
sends `apply_async` and waits on a Redis result backend.
Prints medians and throughputs and the Reel/bare ratios.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

REDIS = "redis://127.0.0.1:6379/14"


def bare_celery(n: int, burst: int) -> tuple[float, float]:
    env = {**os.environ, "BARE_BROKER_URL": REDIS, "BARE_BACKEND_URL": REDIS, "PYTHONPATH": str(ROOT / "bench")}
    worker = subprocess.Popen([sys.executable, "-m", "celery", "-A", "bare_celery_app", "worker", "-c", "1", "-P",
                               "prefork", "-l", "WARNING", "--without-gossip", "--without-mingle"],
                              env=env, cwd=ROOT / "bench", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        os.environ.update({"BARE_BROKER_URL": REDIS, "BARE_BACKEND_URL": REDIS})
        sys.path.insert(0, str(ROOT / "bench"))
        from bare_celery_app import noop

        noop.delay("warm").get(timeout=60)
        samples = []
        for _ in range(n):
            t = time.perf_counter()
            noop.delay("x").get(timeout=30)
            samples.append(time.perf_counter() - t)
        t = time.perf_counter()
        results = [noop.delay("x") for _ in range(burst)]
        for r in results:
            r.get(timeout=120)
        return statistics.median(samples), burst / (time.perf_counter() - t)
    finally:
        worker.terminate()
        worker.wait(20)


def reel(n: int, burst: int) -> tuple[float, float]:
    from reel_host.records.models import Task
    from sqlalchemy import func, select

    from tests.utils.stack import free_port, make_stack

    with tempfile.TemporaryDirectory() as tmp, make_stack("distributed", Path(tmp)) as stack:
        stack.start_worker("testplugin", pool="bench")
        # the API under test runs in its own process, as `reel serve` does in production
        port = free_port()
        env = {**os.environ, **stack.env, "REEL_PUBLIC_URL": f"http://127.0.0.1:{port}"}
        api = subprocess.Popen([sys.executable, "-m", "reel_host.cli.main", "serve", "--host", "127.0.0.1",
                                "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        stack._cleanup.append(lambda: (api.terminate(), api.wait(20)))
        body = {"generator": "test.echo", "params": {"text": "x", "steps": 1}}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}/api/v1", timeout=30,
                          headers={"Authorization": f"Bearer {stack.key}"}) as c:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if c.get("/health").status_code == 200:
                        break
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)

            def one() -> None:
                # the client's best way: submit and wait for the end in one request (push, no polling)
                task = c.post("/tasks/submit", json=body, headers={"Prefer": "wait=30"}).json()
                assert task["status"] == "succeeded", task

            one()
            samples = []
            for _ in range(n):
                t = time.perf_counter()
                one()
                samples.append(time.perf_counter() - t)
            t = time.perf_counter()
            for start in range(0, burst, 100):  # a CMS import: batches of 100 in one request each
                r = c.post("/tasks/submit_batch", json={"tasks": [body] * min(100, burst - start)})
                assert r.status_code == 200, r.text
            with stack.runtime.sessions() as session:
                while session.scalar(select(func.count()).select_from(Task).where(Task.status == "queued")) > 0 or \
                        session.scalar(select(func.count()).select_from(Task).where(Task.status == "running")) > 0:
                    time.sleep(0.01)
            return statistics.median(samples), burst / (time.perf_counter() - t)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=200, help="sequential round trips per side")
    parser.add_argument("--burst", type=int, default=300, help="tasks sent at once for throughput")
    args = parser.parse_args()
    bare_rt, bare_tp = bare_celery(args.n, args.burst)
    reel_rt, reel_tp = reel(args.n, args.burst)
    print(f"{'':14}{'round trip (median)':>22}{'throughput':>16}")
    print(f"{'bare Celery':14}{bare_rt * 1000:>19.2f} ms{bare_tp:>11.0f} /s")
    print(f"{'Reel REST':14}{reel_rt * 1000:>19.2f} ms{reel_tp:>11.0f} /s")
    print(f"{'Reel / bare':14}{reel_rt / bare_rt:>20.1f} x{reel_tp / bare_tp:>13.2f} x")


if __name__ == "__main__":
    main()
