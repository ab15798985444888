"""The API under load: open-loop status reads, SSE delay with many subscribers, clients submitting at once.

    .venv/bin/python bench/load.py [--rates 100,200,500] [--seconds 10] [--subscribers 1000]
                                   [--clients 50] [--clients-seconds 20] [--rounds 3]
                                   [--client-procs 2] [--api-workers N]

One distributed stack (the machine's PostgreSQL and Redis, own database and key prefix), one
`reel worker`, and the API under test as `reel serve` in its own process (`--workers` from
`--api-workers`, else the server's default). The load comes from `--client-procs` processes,
each one asyncio loop; status reads and SSE streams use a minimal keep-alive HTTP/1.1 client
(a fraction of httpx's CPU per request: the client shares the machine's cores with the API).
Times are CLOCK_MONOTONIC, the same in every process. Each round measures, in order:

1. status reads: `GET /tasks/{id}/status` of 20 finished tasks at a fixed offered rate, OPEN
   loop: request i is due at t0 + i/rate whether or not earlier ones were answered, and its
   latency counts from that due time (coordinated omission included). Counts 200s, 503s (shed
   with Retry-After: not errors, not successes), other answers and errors/timeouts (5 s);
   "lag p99": how late the client itself sent (a client bottleneck). After the highest rate,
   50 sequential reads check that the API answers again.
2. submit: `--clients` clients (started over the first second) each loop: submit a test.echo
   task (httpx), then `GET status` with `Prefer: wait=10` until it is finished. Submit latency,
   tasks completed.
3. SSE: `--subscribers` streams `GET /tasks/{id}/events` over 10 tasks (one long run, the others
   queued behind it); once every stream has had its first `task` event, the 10 tasks are
   cancelled at once; delay = a stream receives its `cancelled` event - the cancel request of
   its task was sent (so the cancel request itself is in it; "cancel max" is its longest).

"cpu%": CPU time of the API processes / of the client processes over the phase, in % of one
core; "machine busy%": of all the machine's cores (PostgreSQL and other work included). Prints
the median over rounds and the (min-max) spread. Goals: status p99 < 20 ms at 500 req/s,
SSE p99 < 250 ms with 1000 subscribers, submit p99 < 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import multiprocessing as mp
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FINISHED = ("succeeded", "failed", "cancelled")
ECHO = {"generator": "test.echo", "params": {"text": "x", "steps": 1}}
LONG = {"generator": "test.echo", "params": {"text": "x", "steps": 1, "step_s": 60}}


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] * 1000 if xs else float("nan")


def merge(parts: list[dict], key: str) -> collections.Counter:
    return sum((collections.Counter(p[key]) for p in parts), collections.Counter())


# -- the load: client processes, each running jobs from its own queue --------------------------

class Raw:
    """Keep-alive HTTP/1.1 GETs over asyncio streams; connections opened as needed, reused LIFO
    (one idle for 4 s is closed: uvicorn closes idle ones after 5)."""

    def __init__(self, port: int, key: str) -> None:
        self.port, self.key, self.idle = port, key, []
        self.head = f"Host: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n\r\n"

    async def send(self, r: asyncio.StreamReader, w: asyncio.StreamWriter, path: str) -> tuple[int, bytes]:
        w.write(f"GET /api/v1{path} HTTP/1.1\r\n{self.head}".encode())
        head = await r.readuntil(b"\r\n\r\n")
        return int(head[9:12]), head.lower()

    async def get(self, path: str) -> int:
        while self.idle and self.idle[0][2] < time.monotonic() - 4:
            self.idle.pop(0)[1].close()
        r, w, _ = self.idle.pop() if self.idle else (*await asyncio.open_connection("127.0.0.1", self.port), 0)
        try:
            status, head = await self.send(r, w, path)
            await r.readexactly(int(re.search(rb"content-length: *(\d+)", head)[1]))
        except BaseException:  # a timeout (cancelled) too: the connection is in an unknown state
            w.close()
            raise
        self.idle.append((r, w, time.monotonic())) if b"connection: close" not in head else w.close()
        return status


async def chunked_lines(r: asyncio.StreamReader):
    """The lines of a chunked (streamed) response body."""
    buf = b""
    while size := int((await r.readline()).strip(), 16):
        *lines, buf = (buf + (await r.readexactly(size + 2))[:-2]).split(b"\n")
        for line in lines:
            yield line.rstrip(b"\r")


async def status_job(n: int, i: int, raw: Raw, task_ids: list[str], rate: float, seconds: float, t0: float):
    lat, lags, outcomes = [], [], collections.Counter()

    async def one(k: int, due: float) -> None:
        lags.append(time.monotonic() - due)
        try:
            status = await asyncio.wait_for(raw.get(f"/tasks/{task_ids[k % len(task_ids)]}/status"), 5)
            outcomes[status] += 1
            if status == 200:
                lat.append(time.monotonic() - due)
        except Exception as e:  # noqa: BLE001 -- a timeout (5 s), a reset, a bad answer: counted
            outcomes[type(e).__name__] += 1

    pending = []
    for k in range(i, int(rate * seconds), n):  # this process's share of one schedule
        due = t0 + k / rate
        if (wait := due - time.monotonic()) > 0:
            await asyncio.sleep(wait)
        pending.append(asyncio.create_task(one(k, due)))
    await asyncio.gather(*pending)
    return {"lat": lat, "lags": lags, "outcomes": outcomes}


async def submit_job(n: int, i: int, raw: Raw, clients: int, seconds: float):
    submits, counts, end = [], collections.Counter(), time.monotonic() + seconds
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{raw.port}/api/v1", timeout=30,
                                 headers={"Authorization": f"Bearer {raw.key}"}) as c:
        async def client(start: float) -> None:
            await asyncio.sleep(start)  # started over the first second, not as one burst
            while time.monotonic() < end:
                t = time.monotonic()
                try:
                    r = await c.post("/tasks/submit", json=ECHO)
                except httpx.HTTPError as e:
                    counts[f"submit {type(e).__name__}"] += 1
                    continue
                if r.status_code != 202:
                    counts[f"submit {r.status_code}"] += 1
                    await asyncio.sleep(float(r.headers.get("retry-after", 1)))
                    continue
                submits.append(time.monotonic() - t)
                task_id = r.json()["id"]
                while time.monotonic() < end + 30:
                    try:
                        r = await c.get(f"/tasks/{task_id}/status", headers={"Prefer": "wait=10"})
                    except httpx.HTTPError as e:
                        counts[f"status {type(e).__name__}"] += 1
                        continue
                    if r.status_code != 200:
                        counts[f"status {r.status_code}"] += 1
                        await asyncio.sleep(0.5)
                    elif (status := r.json()["status"]) in FINISHED:
                        counts[status] += 1
                        break
                else:
                    counts["unfinished"] += 1

        await asyncio.gather(*(client(k / clients) for k in range(i, clients, n)))
    return {"submits": submits, "counts": counts}


async def sse_job(n: int, i: int, raw: Raw, task_ids: list[str], subscribers: int, out: mp.Queue):
    """Opens this process's streams, says ("ready", streams open), then waits for the `cancelled` events."""
    mine = [task_ids[(i + k * n) % len(task_ids)] for k in range(subscribers // n + (i < subscribers % n))]
    got, failures, settled, all_settled = [], collections.Counter(), [0], asyncio.Event()

    def settle() -> None:
        settled[0] += 1
        if settled[0] == len(mine):
            all_settled.set()

    async def subscriber(task_id: str) -> None:
        first, w = True, None
        try:
            r, w = await asyncio.open_connection("127.0.0.1", raw.port)
            status, _ = await raw.send(r, w, f"/tasks/{task_id}/events")
            if status != 200:
                failures[f"http {status}"] += 1
                return
            event = None
            async for line in chunked_lines(r):
                if line.startswith(b"event:"):
                    event = line[6:].strip()
                elif line.startswith(b"data:") and event == b"task":
                    if first:
                        first = False
                        settle()
                    if json.loads(line[5:])["status"] == "cancelled":
                        got.append((task_id, time.monotonic()))
                        return
            failures["ended without cancelled"] += 1
        except Exception as e:  # noqa: BLE001 -- counted, like any answer other than the event
            failures[type(e).__name__] += 1
        finally:
            if first:
                settle()
            if w:
                w.close()

    tasks = [asyncio.create_task(subscriber(t)) for t in mine]
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(all_settled.wait(), 60)
    out.put((i, ("ready", len(mine) - sum(failures.values()))))
    _, late = await asyncio.wait(tasks, timeout=60)
    for t in late:
        t.cancel()
    failures["no event in 60 s"] += len(late)
    return {"got": got, "failures": +failures}


def client_proc(n: int, i: int, port: int, key: str, jobs: mp.Queue, out: mp.Queue) -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (resource.getrlimit(resource.RLIMIT_NOFILE)[1],) * 2)
    run = asyncio.run
    with contextlib.suppress(ImportError):
        from uvloop import run
    while (job := jobs.get()) is not None:
        kind, kw = job
        if kind == "sse":
            kw["out"] = out
        job = {"status": status_job, "submit": submit_job, "sse": sse_job}[kind]
        out.put((i, run(job(n, i, Raw(port, key), **kw))))


class Clients:
    def __init__(self, n: int, port: int, key: str) -> None:
        ctx = mp.get_context("spawn")  # this process holds threads (the stack's own API): no fork
        self.out, self.jobs = ctx.Queue(), [ctx.Queue() for _ in range(n)]
        self.procs = [ctx.Process(target=client_proc, args=(n, i, port, key, q, self.out), daemon=True)
                      for i, q in enumerate(self.jobs)]
        for p in self.procs:
            p.start()

    def send(self, kind: str, **kw) -> None:
        for q in self.jobs:
            q.put((kind, kw))

    def collect(self, early: list | None = None) -> list:
        early = early or []
        return early + [self.out.get(timeout=300)[1] for _ in range(len(self.procs) - len(early))]

    def collect_ready(self) -> tuple[int, list]:
        """SSE: the streams open in all processes, and results already in (a process whose streams all failed)."""
        ready: list[tuple[str, int]] = []
        early: list[dict] = []
        while len(ready) < len(self.procs):
            msg = self.out.get(timeout=180)[1]
            (early if isinstance(msg, dict) else ready).append(msg)
        return sum(n for _, n in ready), early

    def close(self) -> None:
        for q in self.jobs:
            q.put(None)
        for p in self.procs:
            p.join(10)
            if p.is_alive():
                p.terminate()


# -- one round ----------------------------------------------------------------------------------

def round_figures(args, clients: Clients, api: httpx.Client, api_proc: psutil.Process, status_ids: list[str]):
    rows: dict[str, dict] = {}

    def cpu() -> tuple[float, ...]:
        def used(procs):
            return sum(sum(p.cpu_times()[:2]) for p in procs if p.is_running())
        m = psutil.cpu_times()
        return (time.monotonic(), used([api_proc, *api_proc.children(recursive=True)]),
                used(psutil.Process(p.pid) for p in clients.procs),
                (m.user + m.nice + m.system + m.irq + m.softirq + m.steal) / (os.cpu_count() or 1))

    def cpu_cols(start: tuple[float, ...]) -> dict:
        end = cpu()
        return {name: (end[k] - start[k]) / (end[0] - start[0]) * 100
                for k, name in enumerate(("API cpu%", "client cpu%", "machine busy%"), 1)}

    for rate in args.rates:
        start = cpu()
        clients.send("status", task_ids=status_ids, rate=rate, seconds=args.seconds, t0=time.monotonic() + 0.5)
        parts = clients.collect()
        outcomes, lat = merge(parts, "outcomes"), [x for p in parts for x in p["lat"]]
        rows[f"status @{rate:g}/s"] = {
            "p50 ms": pct(lat, .5), "p99 ms": pct(lat, .99),
            "200": outcomes.pop(200, 0), "503": outcomes.pop(503, 0), "other/err": sum(outcomes.values()),
            "lag p99 ms": pct([x for p in parts for x in p["lags"]], .99), **cpu_cols(start)}
        if outcomes:
            print(f"  status @{rate:g}/s, other answers/errors: {dict(outcomes)}", flush=True)
    ok = []  # right after the highest rate: does the API answer again?
    for _ in range(50):
        t = time.monotonic()
        with contextlib.suppress(httpx.HTTPError):
            if api.get(f"/tasks/{status_ids[0]}/status", timeout=5).status_code == 200:
                ok.append(time.monotonic() - t)
    rows["recovery, 50 seq."] = {"p50 ms": pct(ok, .5), "p99 ms": pct(ok, .99), "200": len(ok)}

    start = cpu()
    clients.send("submit", clients=args.clients, seconds=args.clients_seconds)
    parts = clients.collect()
    submits, counts = [x for p in parts for x in p["submits"]], merge(parts, "counts")
    rows[f"submit, {args.clients} clients"] = {
        "p50 ms": pct(submits, .5), "p99 ms": pct(submits, .99), "submitted": len(submits),
        "503": counts.pop("submit 503", 0), "succeeded": counts.pop("succeeded", 0),
        "other/err": sum(counts.values()), **cpu_cols(start)}
    if counts:
        print(f"  submit, other outcomes: {dict(counts)}", flush=True)

    sse_ids = submit_batch(api, LONG, 10)
    clients.send("sse", task_ids=sse_ids, subscribers=args.subscribers)
    ready, early = clients.collect_ready()
    sent, took = {}, []

    async def cancel_all() -> None:
        async with httpx.AsyncClient(base_url=str(api.base_url), headers=dict(api.headers), timeout=30) as c:
            await c.get("/health")  # the connection is open before the clock starts

            async def cancel(task_id: str) -> None:
                sent[task_id] = time.monotonic()
                r = await c.delete(f"/tasks/{task_id}/cancel")
                took.append(time.monotonic() - sent[task_id])
                assert r.status_code == 200, r.text
            await asyncio.gather(*(cancel(t) for t in sse_ids))

    start = cpu()
    asyncio.run(cancel_all())
    parts = clients.collect(early)
    delays, failures = [at - sent[t] for p in parts for t, at in p["got"]], merge(parts, "failures")
    rows[f"SSE, {args.subscribers} subs"] = {
        "p50 ms": pct(delays, .5), "p99 ms": pct(delays, .99), "max ms": pct(delays, 1), "cancel max ms": pct(took, 1),
        "ready": ready, "got": len(delays), "other/err": sum(failures.values()), **cpu_cols(start)}
    if failures:
        print(f"  SSE failures: {dict(failures)}", flush=True)
    return rows


def print_table(rounds: list[dict[str, dict]]) -> None:
    """Rows with the same columns together under one header; each cell the median (min-max) over rounds."""
    last = None
    for name, row in rounds[0].items():
        cols = list(row)
        width = [max(len(c) + 2, 17 if len(rounds) > 1 else 9) for c in cols]
        if cols != last:
            print(f"\n{'':20}" + "".join(f"{c:>{w}}" for c, w in zip(cols, width, strict=True)))
            last = cols
        cells = []
        for col in cols:
            xs = [r[name][col] for r in rounds]
            fmt = "{:.1f}" if "ms" in col else "{:.0f}"
            cells.append(fmt.format(statistics.median(xs))
                         + (f" ({fmt.format(min(xs))}-{fmt.format(max(xs))})" if len(xs) > 1 else ""))
        print(f"{name:20}" + "".join(f"{c:>{w}}" for c, w in zip(cells, width, strict=True)))
    print(f"\n(median over {len(rounds)} rounds, (min-max); cpu% in % of one core)")


def submit_batch(api: httpx.Client, body: dict, n: int) -> list[str]:
    r = api.post("/tasks/submit_batch", json={"tasks": [body] * n})
    assert r.status_code == 200, r.text
    return [item["task"]["id"] for item in r.json()["data"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", default="100,200,500", help="offered status reads per second, comma-separated")
    parser.add_argument("--seconds", type=float, default=10, help="seconds at each rate")
    parser.add_argument("--subscribers", type=int, default=1000, help="SSE streams at once")
    parser.add_argument("--clients", type=int, default=50, help="clients submitting and waiting")
    parser.add_argument("--clients-seconds", type=float, default=20, help="seconds the clients submit")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--client-procs", type=int, default=2, help="load generator processes")
    parser.add_argument("--api-workers", type=int, help="`reel serve --workers`; default: the server's own")
    args = parser.parse_args()
    args.rates = [float(r) for r in args.rates.split(",")]
    resource.setrlimit(resource.RLIMIT_NOFILE, (resource.getrlimit(resource.RLIMIT_NOFILE)[1],) * 2)

    from reel_host.cli.run import default_api_workers

    from tests.utils.stack import free_port, make_stack

    with tempfile.TemporaryDirectory() as tmp, make_stack("distributed", Path(tmp)) as stack:
        stack.start_worker("testplugin", pool="bench")
        port, log_path = free_port(), Path(tmp) / "api.log"
        env = {**os.environ, **stack.env, "REEL_PUBLIC_URL": f"http://127.0.0.1:{port}"}
        cmd = [sys.executable, "-m", "reel_host.cli.main", "serve", "--host", "127.0.0.1", "--port", str(port)]
        cmd += ["--workers", str(args.api_workers)] if args.api_workers else []
        with log_path.open("wb") as log:
            api_proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        stack._cleanup.append(lambda: (api_proc.terminate(), api_proc.wait(20)))
        workers = args.api_workers or default_api_workers(stack.runtime.settings)
        print(f"API: reel serve --workers {workers} ({'--api-workers' if args.api_workers else 'server default'}); "
              f"load from {args.client_procs} client processes; {os.cpu_count()} CPU cores", flush=True)
        clients = None
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}/api/v1", timeout=30,
                              headers={"Authorization": f"Bearer {stack.key}"}) as api:
                deadline = time.monotonic() + 120
                while True:
                    with contextlib.suppress(httpx.TransportError):
                        if api.get("/health").status_code == 200:
                            break
                    if time.monotonic() > deadline or api_proc.poll() is not None:
                        raise RuntimeError("reel serve did not start:\n" + log_path.read_text()[-3000:])
                    time.sleep(0.2)
                status_ids = submit_batch(api, ECHO, 20)
                for task_id in status_ids:  # the reads are of finished tasks (outputs and all)
                    r = api.get(f"/tasks/{task_id}/status", headers={"Prefer": "wait=30"})
                    assert r.json()["status"] in FINISHED, r.text
                clients = Clients(args.client_procs, port, stack.key)
                rounds = []
                for n in range(args.rounds):
                    print(f"round {n + 1}/{args.rounds}", flush=True)
                    rounds.append(round_figures(args, clients, api, psutil.Process(api_proc.pid), status_ids))
            print_table(rounds)
        finally:
            if clients:
                clients.close()
            bad = [line for line in log_path.read_text(errors="replace").splitlines()
                   if "Traceback" in line or re.search(r"\[(warning|error|critical)", line)]
            print(f"API log: {len(bad)} warning/error lines" + "".join(f"\n  {line[:240]}" for line in bad[:10]))


if __name__ == "__main__":
    main()
