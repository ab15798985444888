"""Reading the broker's state without consuming from it: how many messages wait in a queue.

The records' reconciler compares what the records say is queued with what the broker
holds; the metrics report queue depth. Both go through :func:`queue_size`, which asks the
transport's own count (``Channel._size``, what a passive ``queue_declare`` reports), so it
counts the same way the transport delivers: on Redis the ten priority sub-queues
(``reel.gen.x``, ``reel.gen.x:1`` … ``:9``) under the global key prefix, on the embedded
transport the finished message files (never one still being written).

:func:`queued_messages` goes further and lists which task attempts a queue holds, for the
transports Reel configures (Redis with priority sub-queues and a key prefix, and the
embedded transport); for any other it answers None ("cannot tell") and the reconciler
sends nothing again on a guess.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterable
from typing import Any

from celery import Celery

from reel_host.queue.fs_transport import is_message_of

# (task id, attempt) pairs of the ``reel.run`` messages a queue holds
Listing = set[tuple[str, int]]


def queue_size(app: Celery, queue_name: str) -> int:
    """Messages waiting in ``queue_name`` (0 for a queue the broker does not know).

    Messages already delivered to a worker and not yet acknowledged are not counted.

    Raises:
        kombu.exceptions.OperationalError: the broker cannot be reached.
    """
    with app.pool.acquire(block=True) as conn:
        # Not queue_declare(passive=True): on Redis with a global key prefix, kombu's existence
        # check (EXISTS in a pipeline) misses the prefix, so a full queue answers NOT_FOUND.
        # _size sums the priority sub-queues through the prefixed client, and is 0 for a queue
        # nobody ever published to.
        return int(conn.default_channel._size(queue_name))


def queued_messages(app: Celery, queue: str, only_if_fewer_than: int | None = None) -> Listing | None:
    """The (task id, attempt) pairs of ``reel.run`` messages waiting in ``queue``.

    With ``only_if_fewer_than``, a queue holding at least that many messages answers None
    without being listed (nothing can be missing from it).
    """
    if only_if_fewer_than is not None and queue_size(app, queue) >= only_if_fewer_than:
        return None
    with app.pool.acquire(block=True) as conn:
        channel: Any = conn.default_channel
        transport = type(conn.transport).__module__
        if transport.endswith(".redis"):
            raw = _redis_payloads(channel, queue)
        elif hasattr(channel, "data_folder_in"):
            raw = _folder_payloads(channel.data_folder_in, queue)
        else:
            return None
        return {pair for pair in (_attempt_of(item) for item in raw) if pair is not None}


def _redis_payloads(channel: Any, queue: str) -> Iterable[bytes]:
    prefix = getattr(channel, "global_keyprefix", "") or ""
    client = channel.client
    for step in channel.priority_steps:
        # LRANGE is not among the commands kombu prefixes itself
        yield from client.lrange(prefix + channel._q_for_pri(queue, step), 0, -1)


def _folder_payloads(folder: str, queue: str) -> Iterable[bytes]:
    for name in os.listdir(folder):
        if not is_message_of(name, queue):
            continue  # another queue's, or one still being written
        try:
            with open(os.path.join(folder, name), "rb") as f:
                yield f.read()
        except OSError:
            continue  # taken meanwhile


def _attempt_of(payload: bytes) -> tuple[str, int] | None:
    """(task id, attempt) of a Celery protocol-2 ``reel.run`` message, or None."""
    try:
        message = json.loads(payload)
        body = message["body"]
        if message.get("properties", {}).get("body_encoding") == "base64":
            body = base64.b64decode(body)
        args = json.loads(body)[0]
        return str(args[0]), int(args[1])
    except Exception:
        return None
