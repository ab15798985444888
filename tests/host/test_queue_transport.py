"""The embedded transport under concurrent writers, and queue sizes on both brokers.

The stress test publishes from several processes at once through kombu's public API
while two reader processes consume: every message must arrive whole (its checksum
matches), once (to one reader), and none may be lost.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import secrets

import pytest
from kombu import Connection
from reel_host.queue import fs_transport
from reel_host.queue.celery_app import RUN_TASK, celery_priority, make_celery, queue_for
from reel_host.queue.inspect import queue_size
from reel_host.settings import Settings

from tests.utils.fs_stress import PER_WRITER, READERS, WRITERS, read_messages, transport_options, write_messages
from tests.utils.stack import REDIS_URL, clear_redis_prefix


def test_embedded_transport__concurrent_writers_and_readers__every_message_whole_and_once(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    start, writers_done = ctx.Event(), ctx.Event()
    transport_options(tmp_path)  # the folders, before anyone lists them
    writers = [ctx.Process(target=write_messages, args=(str(tmp_path), w, start)) for w in range(WRITERS)]
    readers = [ctx.Process(target=read_messages, args=(str(tmp_path), r, start, writers_done)) for r in range(READERS)]
    for p in [*writers, *readers]:
        p.start()
    start.set()
    for p in writers:
        p.join(120)
        assert p.exitcode == 0
    writers_done.set()
    for p in readers:
        p.join(120)
        assert p.exitcode == 0

    results = [json.loads((tmp_path / f"reader-{r}.json").read_text()) for r in range(READERS)]
    seen = [key for result in results for key in result["seen"]]
    assert [key for result in results for key in result["torn"]] == [], "a reader got half a message"
    assert len(seen) == len(set(seen)), "a message was delivered twice"
    assert set(seen) == {f"{w}/{s}" for w in range(WRITERS) for s in range(PER_WRITER)}, "a message was lost"
    assert all(result["seen"] for result in results), "both readers took part"
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
