"""prometheus-client's multiprocess mode, per process group.

Why this mode: a prefork pool runs tasks in child processes that Celery replaces
(``max_tasks_per_child``, a child killed by a time limit or the OOM killer); an API may
run several uvicorn/gunicorn workers behind one port. Each process writes its counters
and histograms to mmap files in ``PROMETHEUS_MULTIPROC_DIR``; the group's exporter sums
them at scrape time. A replaced child's files stay, so counters never go backwards.
Gauges that describe live processes (``livesum``) drop a dead child's file when the
exporter reaps it. State gauges (queues, workers) are not recorded here at all: they are
read from the records at scrape time (``collectors``), which are the truth across hosts.

Each process group needs its own directory, emptied at start: ``reel worker
--metrics-port`` makes a private one; for a multi-process API the operator sets
``PROMETHEUS_MULTIPROC_DIR`` (see docs/operations.md).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

ENV = "PROMETHEUS_MULTIPROC_DIR"
_LIVE_FILE = re.compile(r"^gauge_live\w*_(\d+)\.db$")


def directory() -> Path | None:
    value = os.environ.get(ENV) or os.environ.get(ENV.lower())
    return Path(value) if value else None


def enable(path: Path | None = None) -> Path:
    """Switch this process (and the children it forks) to multiprocess mode.

    Must run before metrics record values; safe after prometheus_client was imported,
    since labelled metrics create their value objects at first use.
    """
    if path is None:
        path = Path(tempfile.mkdtemp(prefix="reel-metrics-"))
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):  # a previous run's numbers are not this group's
        stale.unlink(missing_ok=True)
    os.environ[ENV] = str(path)
    from prometheus_client import values

    values.ValueClass = values.get_value_class()
    return path


def remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reap_dead(path: Path) -> list[int]:
    """Drop live-gauge files of processes that are gone (a replaced pool child)."""
    from prometheus_client import multiprocess

    dead = set()
    for file in path.glob("gauge_live*.db"):
        match = _LIVE_FILE.match(file.name)
        if match and not _alive(int(match.group(1))):
            dead.add(int(match.group(1)))
    for pid in dead:
        with contextlib.suppress(OSError):
            multiprocess.mark_process_dead(pid, str(path))
    return sorted(dead)


class MultiProcessSource:
    """Collector: the group's summed files, reaping dead children's live gauges first."""

    def __init__(self, path: Path) -> None:
        from prometheus_client import multiprocess

        self.path = path
        self._collector = multiprocess.MultiProcessCollector(None, path=str(path))

    def describe(self) -> list:  # type: ignore[type-arg]
        return []  # names vary with what the processes recorded; never collect at registration

    def collect(self) -> Iterable:  # type: ignore[type-arg]
        reap_dead(self.path)
        return self._collector.collect()
