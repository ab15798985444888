"""Concurrent writers and readers on the embedded broker: kombu's stock filesystem transport vs Reel's.

Counts, not times: each run has WRITERS processes publish PER_WRITER messages of
BODY_BYTES (with a checksum) while READERS processes consume, and reports how many were
received, lost, delivered twice, torn (checksum wrong) or unreadable.

    python bench/embedded_transport.py --runs 10            # both transports, side by side
    python bench/embedded_transport.py --transport reelfs
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import tempfile
from pathlib import Path
from typing import Any

from kombu import Connection
from reel_host.queue import fs_transport

from tests.utils import fs_stress


def write(transport: str, folder: str, writer: int, start: Any) -> None:
    start.wait()
    with Connection(f"{transport}://", transport_options=fs_stress.transport_options(Path(folder))) as conn:
        queue = conn.SimpleQueue("stress")
        for seq in range(fs_stress.PER_WRITER):
            queue.put(fs_stress.body(writer, seq), serializer="json")


def read(transport: str, folder: str, reader: int, start: Any, done: Any) -> None:
    seen, torn, errors = [], 0, 0
    with Connection(f"{transport}://", transport_options=fs_stress.transport_options(Path(folder))) as conn:
        queue = conn.SimpleQueue("stress")
        start.wait()
        while True:
            try:
                message = queue.get(timeout=0.5)
            except queue.Empty:
                if done.is_set() and queue.qsize() == 0:
                    break
                continue
            except Exception:  # the stock transport took a file it cannot decode: that message is gone
                errors += 1
                continue
            data = message.payload
            message.ack()
            seen.append(f"{data['writer']}/{data['seq']}")
            torn += hashlib.sha256(data["blob"].encode()).hexdigest() != data["sha"]
    Path(folder, f"reader-{reader}.json").write_text(json.dumps({"seen": seen, "torn": torn, "errors": errors}))


def run_once(transport: str) -> dict[str, int]:
    ctx = multiprocessing.get_context("spawn")
    start, done = ctx.Event(), ctx.Event()
    with tempfile.TemporaryDirectory() as folder:
        fs_stress.transport_options(Path(folder))
        writers = [ctx.Process(target=write, args=(transport, folder, w, start)) for w in range(fs_stress.WRITERS)]
        readers = [ctx.Process(target=read, args=(transport, folder, r, start, done))
                   for r in range(fs_stress.READERS)]
        for p in [*writers, *readers]:
            p.start()
        start.set()
        for p in writers:
            p.join()
        done.set()
        for p in readers:
            p.join()
        results = [json.loads(Path(folder, f"reader-{r}.json").read_text()) for r in range(fs_stress.READERS)]
    seen = [key for r in results for key in r["seen"]]
    published = fs_stress.WRITERS * fs_stress.PER_WRITER
    return {"published": published, "received": len(seen), "lost": published - len(set(seen)),
            "duplicated": len(seen) - len(set(seen)), "torn": sum(r["torn"] for r in results),
            "unreadable": sum(r["errors"] for r in results)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transport", choices=["filesystem", fs_transport.TRANSPORT_NAME, "both"], default="both")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    transports = ["filesystem", fs_transport.TRANSPORT_NAME] if args.transport == "both" else [args.transport]
    print(f"{fs_stress.WRITERS} writers x {fs_stress.PER_WRITER} messages of {fs_stress.BODY_BYTES} bytes, "
          f"{fs_stress.READERS} readers, {args.runs} runs")
    for transport in transports:
        totals: dict[str, int] = {}
        bad_runs = 0
        for _ in range(args.runs):
            counts = run_once(transport)
            bad_runs += counts["published"] != counts["received"] or counts["torn"] > 0
            totals = {k: totals.get(k, 0) + v for k, v in counts.items()}
        print(f"{transport:<11} " + "  ".join(f"{k} {v}" for k, v in totals.items()) + f"  runs with a loss {bad_runs}")


if __name__ == "__main__":
    main()
