"""No-op task round trip and throughput: Reel's REST API against bare Celery, same machine, same run.

    .venv/bin/python bench/roundtrip.py [--n 200] [--burst 300] [--mode distributed|embedded|both] [--rounds 3]

Distributed: both sides use the machine's Redis (own DB number / key prefix) and one prefork
worker process. Reel's side goes through everything a client sees: HTTP submit with an API key,
params validation, the task record in PostgreSQL, the broker, the worker's fenced claim,
the run, output storage and the finishing update, and the client learns the result by
one request: `POST /tasks/submit` with `Prefer: wait=30`, answered when the task ends
(pushed to the API by PostgreSQL NOTIFY). The burst goes in batches of 100 through
`POST /tasks/submit_batch`. The API runs as `reel serve` in its own process. Bare Celery
sends `apply_async` and waits on a Redis result backend.

Embedded: Reel is `reel up` itself (SQLite, the filesystem broker, one worker, the callbacks
sender; a home of its own), the client waits the same way; bare Celery uses the same kind
of broker (kombu's filesystem transport, polled as often as Reel's) and a filesystem result
backend, with no Redis anywhere.

The sides run one after the other, `--rounds` times interleaved; printed are the medians of
the rounds (and their spread) and the Reel/bare ratios, then where the CPU went during the
burst: milliseconds of CPU per task in each process group (the client, the API, the worker's
main process and its pool, PostgreSQL, Redis). CPU per task is steadier than wall time on a
shared machine, and it says what a side costs whichever core it ran on.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

REDIS = "redis://127.0.0.1:6379/14"
Groups = dict[str, list[psutil.Process]]
Figures = tuple[float, float, dict[str, float]]  # round trip (s), burst (tasks/s), CPU ms per task by group


def tree(pid: int) -> list[psutil.Process]:
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def servers(name: str) -> list[psutil.Process]:
    return [p for p in psutil.process_iter(["name"]) if p.info["name"] == name]


class CpuMeter:
    """CPU seconds of process groups between :meth:`start` and :meth:`per_task`; a process that
    appears meanwhile (a new database backend) counts from zero."""

    def __init__(self, groups: Callable[[], Groups]) -> None:
        self.groups = groups
        self.before: dict[int, float] = {}

    @staticmethod
    def _used(procs: list[psutil.Process]) -> dict[int, float]:
        out = {}
        for p in procs:
            try:
                t = p.cpu_times()
                out[p.pid] = t.user + t.system
            except psutil.Error:
                pass
        return out

    def start(self) -> None:
        self.before = self._used([p for procs in self.groups().values() for p in procs])

    def per_task(self, tasks: int) -> dict[str, float]:
        """Milliseconds of CPU per task, by group."""
        return {name: sum(now - self.before.get(pid, 0.0) for pid, now in self._used(procs).items()) / tasks * 1000
                for name, procs in self.groups().items()}


def bare_celery(n: int, burst: int, embedded: bool = False) -> Figures:
    tmp = Path(tempfile.mkdtemp(prefix="bare-celery-"))
    urls = {"BARE_BROKER_URL": REDIS, "BARE_BACKEND_URL": REDIS}
    if embedded:  # the filesystem transport and result backend, polled as often as Reel's embedded broker
        for sub in ("queue", "processed", "control", "results"):
            (tmp / sub).mkdir()
        from reel_host.settings import Settings

        urls = {"BARE_BROKER_URL": "filesystem://", "BARE_BACKEND_URL": f"file://{tmp / 'results'}",
                "BARE_FS_FOLDER": str(tmp), "BARE_FS_POLL_S": str(Settings.model_fields["embedded_poll_s"].default)}
    env = {**os.environ, **urls, "PYTHONPATH": str(ROOT / "bench")}
    worker = subprocess.Popen([sys.executable, "-m", "celery", "-A", "bare_celery_app", "worker", "-c", "1", "-P",
                               "prefork", "-l", "WARNING", "--without-gossip", "--without-mingle"],
                              env=env, cwd=ROOT / "bench", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        os.environ.update(urls)
        sys.path.insert(0, str(ROOT / "bench"))
        sys.modules.pop("bare_celery_app", None)  # configured by the environment at import
        from bare_celery_app import noop

        noop.delay("warm").get(timeout=60, interval=0.005)
        samples = []
        for _ in range(n):
            t = time.perf_counter()
            noop.delay("x").get(timeout=30, interval=0.005)
            samples.append(time.perf_counter() - t)
        meter = CpuMeter(lambda: {"client": [psutil.Process()], "worker": tree(worker.pid)[:1],
                                  "worker pool": tree(worker.pid)[1:], "redis": servers("redis-server")})
        meter.start()
        t = time.perf_counter()
        results = [noop.delay("x") for _ in range(burst)]
        for r in results:
            r.get(timeout=120, interval=0.005)
        return statistics.median(samples), burst / (time.perf_counter() - t), meter.per_task(burst)
    finally:
        worker.terminate()
        worker.wait(20)
        shutil.rmtree(tmp, ignore_errors=True)


def reel(n: int, burst: int) -> Figures:
    """Distributed: `reel serve` (its own process) and one `reel worker`, PostgreSQL and Redis."""
    from tests.utils.stack import free_port, make_stack

    with tempfile.TemporaryDirectory() as tmp, make_stack("distributed", Path(tmp), production_intervals()) as stack:
        stack.api.stop()  # the test stack's own API (it made the database and the key) does not compete
        stack.start_worker("testplugin", pool="bench")
        # the API under test runs in its own process, as `reel serve` does in production
        port = free_port()
        env = {**os.environ, **stack.env, "REEL_PUBLIC_URL": f"http://127.0.0.1:{port}"}
        api = subprocess.Popen([sys.executable, "-m", "reel_host.cli.main", "serve", "--host", "127.0.0.1",
                                "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        stack._cleanup.append(lambda: (api.terminate(), api.wait(20)))
        worker = stack.workers[0].proc.pid
        meter = CpuMeter(lambda: {"client": [psutil.Process()], "api": tree(api.pid), "worker": tree(worker)[:1],
                                  "worker pool": tree(worker)[1:], "postgres": servers("postgres"),
                                  "redis": servers("redis-server")})
        return measure(f"http://127.0.0.1:{port}", stack.key, n, burst, meter)


def production_intervals() -> dict[str, str]:
    """The background passes (heartbeats, reconciler) at their defaults, not the test suite's fast ones."""
    from reel_host.settings import Settings

    from tests.utils.stack import FAST

    return {name: str(Settings.model_fields[name.removeprefix("REEL_").lower()].default) for name in FAST}


def reel_up(n: int, burst: int) -> Figures:
    """Embedded: `reel up` as a user runs it, in a home of its own."""
    from tests.utils.stack import free_port

    port = free_port()
    with tempfile.TemporaryDirectory() as home:
        env = {k: v for k, v in os.environ.items() if not k.startswith("REEL_")}
        env["REEL_HOME"] = home
        up = subprocess.Popen([sys.executable, "-m", "reel_host.cli.main", "up", "--port", str(port)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            key = None
            assert up.stdout is not None
            for line in up.stdout:
                found = re.match(r"API key: (\S+)", line)
                if found:
                    key = found.group(1)
                    break
            assert key, "reel up printed no API key"
            meter = CpuMeter(lambda: {"client": [psutil.Process()], "reel up (all)": tree(up.pid)})
            return measure(f"http://127.0.0.1:{port}", key, n, burst, meter)
        finally:
            up.terminate()
            up.wait(30)


def measure(url: str, key: str, n: int, burst: int, meter: CpuMeter) -> Figures:
    """Round trip median and burst throughput against a running Reel at ``url``."""
    body = {"generator": "test.echo", "params": {"text": "x", "steps": 1}}
    with httpx.Client(base_url=f"{url}/api/v1", timeout=60, headers={"Authorization": f"Bearer {key}"}) as c:
        deadline = time.monotonic() + 60
        while True:
            try:
                if c.get("/health").status_code == 200 and c.get("/plugins").status_code == 200:
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
        meter.start()
        t = time.perf_counter()
        ids: list[str] = []
        for start in range(0, burst, 100):  # a CMS import: batches of 100 in one request each
            r = c.post("/tasks/submit_batch", json={"tasks": [body] * min(100, burst - start)})
            assert r.status_code == 200, r.text
            ids += [item["task"]["id"] for item in r.json()["data"]]
        for task_id in ids:  # the client learns each end by push (Prefer: wait), as a CMS would
            done = c.get(f"/tasks/{task_id}/status", headers={"Prefer": "wait=60"}).json()
            assert done["status"] == "succeeded", done
        return statistics.median(samples), burst / (time.perf_counter() - t), meter.per_task(burst)


def spread(values: list[float]) -> str:
    return f"{min(values):.4g}-{max(values):.4g}" if len(values) > 1 else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=200, help="sequential round trips per side")
    parser.add_argument("--burst", type=int, default=300, help="tasks sent at once for throughput")
    parser.add_argument("--mode", choices=["distributed", "embedded", "both"], default="both")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, the sides interleaved")
    args = parser.parse_args()
    modes = ["distributed", "embedded"] if args.mode == "both" else [args.mode]
    for mode in modes:
        rounds: dict[str, list[Figures]] = {"bare": [], "reel": []}
        for _ in range(args.rounds):
            rounds["bare"].append(bare_celery(args.n, args.burst, embedded=mode == "embedded"))
            rounds["reel"].append((reel if mode == "distributed" else reel_up)(args.n, args.burst))
        ratio_rt = [r[0] / b[0] for r, b in zip(rounds["reel"], rounds["bare"], strict=True)]
        ratio_tp = [r[1] / b[1] for r, b in zip(rounds["reel"], rounds["bare"], strict=True)]
        print(f"\n{mode}: {args.rounds} rounds, n={args.n}, burst={args.burst}; medians (min-max over rounds)")
        print(f"{'':14}{'round trip':>12}{'(spread)':>16}{'throughput':>14}{'(spread)':>14}")
        for side, label in (("bare", "bare Celery"), ("reel", "Reel REST" if mode == "distributed" else "reel up")):
            rts, tps = [r[0] * 1000 for r in rounds[side]], [r[1] for r in rounds[side]]
            print(f"{label:14}{statistics.median(rts):>9.2f} ms{spread(rts):>16}{statistics.median(tps):>10.0f} /s"
                  f"{spread(tps):>14}")
        print(f"{'Reel / bare':14}{statistics.median(ratio_rt):>10.1f} x{spread(ratio_rt):>16}"
              f"{statistics.median(ratio_tp):>12.2f} x{spread(ratio_tp):>14}")
        print("CPU per task during the burst, ms (median of rounds):")
        for side, label in (("bare", "bare Celery"), ("reel", "Reel")):
            groups = rounds[side][0][2]
            parts = {name: statistics.median(r[2][name] for r in rounds[side]) for name in groups}
            print(f"  {label:12} total {sum(parts.values()):6.2f}: "
                  + ", ".join(f"{name} {ms:.2f}" for name, ms in parts.items()))


if __name__ == "__main__":
    main()
