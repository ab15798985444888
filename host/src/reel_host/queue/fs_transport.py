"""The embedded mode's broker: kombu's filesystem transport with an atomic publish.

kombu's own filesystem transport creates a message file under its final name and then
writes into it, so a reader listing the folder can take a file that is still empty or
half written and fail to decode it (or decode a truncated body); and it moves a taken
message with ``shutil.move`` into the system temporary folder, which is a copy and a
delete (not atomic: two readers may both get it) when that folder is on another disk.

Here a message is written under a temporary name that no reader matches (it starts with
a dot and does not end in ``.<queue>.msg``) and then renamed to its final name, so a
reader sees a message whole or not at all. (No fsync: a process crash cannot tear a
renamed file; after a machine crash a torn one is set aside as ``*.corrupt`` and the
reconciler re-dispatches its task from the records.) The exchange table a queue binding
writes is created the same way, so a reader never finds it empty. A reader takes one by
renaming it into the processed folder beside the queue folder (same filesystem: one
atomic rename, one winner) and deletes it after reading.

Messages are still consumed on receipt (no acknowledgement): a worker that dies holding
one loses that message, and the records' reconciler re-dispatches the task.

Registered as the kombu transport ``reelfs``; ``make_celery`` uses it in embedded mode.
"""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
from queue import Empty
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

log = logging.getLogger("reel.queue")

TRANSPORT_NAME = "reelfs"
TEMP_PREFIX = ".incoming-"


def is_message_of(filename: str, queue: str) -> bool:
    """A finished message file of ``queue`` (never a temporary one)."""
    return not filename.startswith(".") and filename.partition(".")[2] == f"{queue}.msg"


class Channel(filesystem.Channel):
    """Filesystem channel whose publish is write-then-rename and whose take is one rename."""

    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        folder = self.data_folder_out
        final = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        temp = os.path.join(folder, f"{TEMP_PREFIX}{uuid.uuid4().hex}")
        try:
            with open(temp, "wb") as f:
                f.write(str_to_bytes(dumps(payload)))
            os.rename(temp, os.path.join(folder, final))
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise ChannelError(f"Cannot add message {final!r} to {folder!r}") from exc

    def _get(self, queue: str, timeout: float | None = None) -> Any:
        folder, processed = self.data_folder_in, self.processed_folder
        for filename in sorted(os.listdir(folder)):
            if not is_message_of(filename, queue):
                continue
            taken = os.path.join(processed, f"{uuid.uuid4().hex}-{filename}")
            try:
                os.rename(os.path.join(folder, filename), taken)
            except FileNotFoundError:
                continue  # another reader took it first
            except OSError as exc:
                raise ChannelError(f"Cannot take message {filename!r} from {folder!r}") from exc
            with open(taken, "rb") as f:
                payload = f.read()
            try:
                message = loads(bytes_to_str(payload))
            except ValueError:
                log.error("message %s of %s is torn (a machine crash?); kept as %s.corrupt", filename, queue, taken)
                os.rename(taken, taken + ".corrupt")
                continue
            os.unlink(taken)
            return message
        raise Empty()

    def _queue_bind(self, exchange: str, routing_key: str, pattern: str, queue: str) -> None:
        file = self._exchange_file(exchange)
        if not file.exists():  # create it whole: kombu opens it "wb" and writes after, a torn read
            self.control_folder.mkdir(exist_ok=True)
            temp = self.control_folder / f"{TEMP_PREFIX}{uuid.uuid4().hex}"
            temp.write_bytes(str_to_bytes(dumps([filesystem.exchange_queue_t(routing_key or "", pattern or "",
                                                                              queue or "")])))
            try:
                os.link(temp, file)  # fails if another process created it meanwhile: then bind below
                return
            except FileExistsError:
                pass
            finally:
                temp.unlink()
        super()._queue_bind(exchange, routing_key, pattern, queue)

    def _size(self, queue: str) -> int:
        return sum(1 for name in os.listdir(self.data_folder_in) if is_message_of(name, queue))

    def _purge(self, queue: str) -> int:
        count = 0
        for name in os.listdir(self.data_folder_in):
            if is_message_of(name, queue):
                try:
                    os.unlink(os.path.join(self.data_folder_in, name))
                    count += 1
                except FileNotFoundError:
                    pass  # taken meanwhile
        return count


class Transport(filesystem.Transport):
    """kombu transport ``reelfs://``: the filesystem transport with :class:`Channel`."""

    Channel = Channel
    global_state = filesystem.virtual.BrokerState()
    driver_type = TRANSPORT_NAME
    driver_name = TRANSPORT_NAME


TRANSPORT_ALIASES.setdefault(TRANSPORT_NAME, f"{__name__}:Transport")
