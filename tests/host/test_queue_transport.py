"""The embedded transport under concurrent writers, and queue sizes on both brokers.

The stress test publishes from several processes at once through kombu's public API
while a reader consumes: every message must arrive whole (its checksum matches), once,
and none may be lost.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import secrets
from pathlib import Path
from typing import Any

import pytest
from kombu import Connection
from reel_host.queue import fs_transport
from reel_host.queue.celery_app import RUN_TASK, celery_priority, make_celery, queue_for
from reel_host.queue.inspect import queue_size
from reel_host.settings import Settings

from tests.utils.stack import REDIS_URL, clear_redis_prefix

WRITERS = 4
PER_WRITER = 50
BODY_BYTES = 128 * 1024  # large enough that a write takes several system calls


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


def test_embedded_transport__concurrent_writers_never_hand_out_half_a_message_nor_lose_one(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    writers = [ctx.Process(target=write_messages, args=(str(tmp_path), w, start)) for w in range(WRITERS)]
    for p in writers:
        p.start()
    seen: set[tuple[int, int]] = set()
    torn: list[str] = []
    with Connection(f"{fs_transport.TRANSPORT_NAME}://", transport_options=transport_options(tmp_path)) as conn:
        queue = conn.SimpleQueue("stress")
        start.set()
        while len(seen) < WRITERS * PER_WRITER:
            try:
                message = queue.get(timeout=60)
            except queue.Empty:
                break  # every writer is done and nothing is left: the assertions say what is missing
            data = message.payload
            message.ack()
            if hashlib.sha256(data["blob"].encode()).hexdigest() != data["sha"]:
                torn.append(f"{data['writer']}/{data['seq']}")
            assert (data["writer"], data["seq"]) not in seen, "a message was delivered twice"
            seen.add((data["writer"], data["seq"]))
        queue.close()
    for p in writers:
        p.join(60)
        assert p.exitcode == 0
    assert torn == []
    assert len(seen) == WRITERS * PER_WRITER
    assert not list((tmp_path / "processed").iterdir()), "a reader left a message behind (or a corrupt one)"
    assert not [n for n in os.listdir(tmp_path / "queue") if n.startswith(fs_transport.TEMP_PREFIX)]


def test_embedded_transport__reader_skips_a_message_still_being_written(tmp_path):
    options = transport_options(tmp_path)
    (tmp_path / "queue" / f"{fs_transport.TEMP_PREFIX}abc").write_bytes(b'{"body": "half')
    with Connection(f"{fs_transport.TRANSPORT_NAME}://", transport_options=options) as conn:
        queue = conn.SimpleQueue("half")  # a name of its own: kombu keeps bindings per process
        assert queue.qsize() == 0  # a passive queue_declare: the transport's _size
        queue.put({"whole": True})
        assert queue.qsize() == 1
        assert queue.get(timeout=5).payload == {"whole": True}
        with pytest.raises(queue.Empty):
            queue.get_nowait()
        queue.close()
    assert (tmp_path / "queue" / f"{fs_transport.TEMP_PREFIX}abc").exists()


def send_run(app, generator: str, priority: int = 5) -> None:  # type: ignore[no-untyped-def]
    app.send_task(RUN_TASK, args=["t", 1, generator], queue=queue_for(generator),
                  priority=celery_priority(priority))


def test_queue_size__embedded(tmp_path):
    app = make_celery(Settings(home=tmp_path))
    assert app.conf.broker_url.startswith(f"{fs_transport.TRANSPORT_NAME}://")
    for _ in range(3):
        send_run(app, "test.echo")
    send_run(app, "test.other")
    assert queue_size(app, queue_for("test.echo")) == 3
    assert queue_size(app, queue_for("test.other")) == 1
    assert queue_size(app, queue_for("never.used")) == 0


def test_queue_size__redis_counts_every_priority_under_the_key_prefix(tmp_path):
    prefix = f"reel-test-{secrets.token_hex(4)}:"
    app = make_celery(Settings(home=tmp_path, broker_url=REDIS_URL, broker_prefix=prefix))
    try:
        for priority in (0, 5, 9, 9):
            send_run(app, "test.echo", priority)
        send_run(app, "test.other")
        assert queue_size(app, queue_for("test.echo")) == 4
        assert queue_size(app, queue_for("test.other")) == 1
        assert queue_size(app, queue_for("never.used")) == 0
        other = make_celery(Settings(home=tmp_path, broker_url=REDIS_URL, broker_prefix=prefix + "x:"))
        assert queue_size(other, queue_for("test.echo")) == 0  # another prefix, another Reel
    finally:
        clear_redis_prefix(prefix)
