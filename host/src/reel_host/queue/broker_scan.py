"""Which task attempts a broker queue holds: how the reconciler finds lost messages.

Only the transports Reel configures are listed (Redis with priority sub-queues and a
key prefix, and the embedded filesystem transport); for any other the answer is None
("cannot tell"), and nothing is re-sent on a guess.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from collections.abc import Iterable
from typing import Any

from celery import Celery

log = logging.getLogger("reel.dispatch")

Listing = set[tuple[str, int]]


def queued_messages(app: Celery, queue: str, only_if_fewer_than: int | None = None) -> Listing | None:
    """The (task id, attempt) pairs of ``reel.run`` messages waiting in ``queue``.

    With ``only_if_fewer_than``, a queue holding at least that many messages answers None
    without being listed (nothing can be missing from it).
    """
    with app.connection_for_write() as conn:
        channel: Any = conn.default_channel
        size = _size(channel, queue)
        if only_if_fewer_than is not None and size >= only_if_fewer_than:
            return None
        transport = type(conn.transport).__module__
        if transport.endswith(".redis"):
            raw = _redis_payloads(channel, queue)
        elif hasattr(channel, "data_folder_in"):
            raw = _folder_payloads(channel.data_folder_in, queue)
        else:
            return None
        return {pair for pair in (_attempt_of(item) for item in raw) if pair is not None}


def _size(channel: Any, queue: str) -> int:
    try:
        return int(channel._size(queue))
    except Exception:  # a queue never declared counts as empty
        return 0


def _redis_payloads(channel: Any, queue: str) -> Iterable[bytes]:
    prefix = getattr(channel, "global_keyprefix", "") or ""
    client = channel.client
    for step in channel.priority_steps:
        # LRANGE is not among the commands kombu prefixes itself
        yield from client.lrange(prefix + channel._q_for_pri(queue, step), 0, -1)


def _folder_payloads(folder: str, queue: str) -> Iterable[bytes]:
    suffix = f"{queue}.msg"
    for name in os.listdir(folder):
        if name.partition(".")[2] != suffix:
            continue
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
