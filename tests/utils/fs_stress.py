"""Writer and reader processes of the embedded transport's stress test (tests/host/test_queue_transport.py).

A module of their own that imports only kombu and the transport, so the spawned
processes start in a moment instead of importing the whole test stack.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from kombu import Connection
from reel_host.queue import fs_transport

WRITERS = 6
READERS = 2
PER_WRITER = 60
BODY_BYTES = 64 * 1024  # several system calls per write


def transport_options(folder: Path) -> dict[str, Any]:
    for sub in ("queue", "control", "processed"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    return {"data_folder_in": str(folder / "queue"), "data_folder_out": str(folder / "queue"),
            "control_folder": str(folder / "control"), "processed_folder": str(folder / "processed"),
            "polling_interval": 0.01}


def body(writer: int, seq: int) -> dict[str, Any]:
    blob = hashlib.sha256(f"{writer}/{seq}".encode()).hexdigest() * (BODY_BYTES // 64)
    return {"writer": writer, "seq": seq, "blob": blob, "sha": hashlib.sha256(blob.encode()).hexdigest()}


def write_messages(folder: str, writer: int, start: Any) -> None:
    start.wait()
    with Connection(f"{fs_transport.TRANSPORT_NAME}://", transport_options=transport_options(Path(folder))) as conn:
        queue = conn.SimpleQueue("stress")
        for seq in range(PER_WRITER):
            queue.put(body(writer, seq), serializer="json")
        queue.close()


def read_messages(folder: str, reader: int, start: Any, writers_done: Any) -> None:
    """Consume until the writers are done and the queue is empty; write what was seen to a file."""
    seen, torn = [], []
    with Connection(f"{fs_transport.TRANSPORT_NAME}://", transport_options=transport_options(Path(folder))) as conn:
        queue = conn.SimpleQueue("stress")
        start.wait()
        while True:
            try:
                message = queue.get(timeout=0.5)
            except queue.Empty:
                if writers_done.is_set() and queue.qsize() == 0:
                    break
                continue
            data = message.payload
            message.ack()
            seen.append(f"{data['writer']}/{data['seq']}")
            if hashlib.sha256(data["blob"].encode()).hexdigest() != data["sha"]:
                torn.append(seen[-1])
        queue.close()
    Path(folder, f"reader-{reader}.json").write_text(json.dumps({"seen": seen, "torn": torn}))
