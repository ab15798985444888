"""Reading the broker's state without consuming from it: how many messages wait in a queue.

The records' reconciler compares what the records say is queued with what the broker
holds; the metrics report queue depth. Both go through :func:`queue_size`, which asks the
transport's own count (``Channel._size``, what a passive ``queue_declare`` reports), so it
counts the same way the transport delivers: on Redis the ten priority sub-queues
(``reel.gen.x``, ``reel.gen.x:1`` … ``:9``) under the global key prefix, on the embedded
transport the finished message files (never one still being written).
"""

from __future__ import annotations

from celery import Celery


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
