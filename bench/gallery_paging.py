"""The console gallery's paging at depth: 20,000 tasks in a project, half of them one person's.

    .venv/bin/python bench/gallery_paging.py [DATABASE_URL]

Times the first page (24 tasks) and the mean of pages 2 to 200 (down to task 4,800) of the
project listing and of the person's own listing (``mine=true``), through the same service call
the API makes. Cursor paging keeps a deep page as cheap as the first; an offset would grow.
Default database: a fresh SQLite file.
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from reel_host.records.models import Task, new_id, utcnow
from reel_host.runtime import Runtime
from reel_host.services import accounts, auth
from reel_host.services.catalog import WorkerView
from reel_host.services.tasks import list_tasks
from reel_host.settings import Settings

TASKS, PAGE, PAGES = 20_000, 24, 200


def main(url: str | None) -> None:
    rt = Runtime(Settings(home=Path(tempfile.mkdtemp()), database_url=url, load_plugins="-"))
    rt.migrate()
    with rt.sessions() as s:
        auth.ensure_project(s, "default")
        me = accounts.create_user(s, rt.settings, "me@example.com", "x" * 12)
        other = accounts.create_user(s, rt.settings, "other@example.com", "x" * 12)
        now = utcnow()
        rows = [dict(id=new_id("tsk"), project_id="default", generator="test.echo", params={}, priority=5,
                     status="succeeded", progress=1.0, attempts=1, auto_retries=0, lost_runs=0,
                     created_by=me.id if i % 2 else other.id, created_at=now - timedelta(seconds=i),
                     queued_at=now, updated_at=now) for i in range(TASKS)]
        s.bulk_insert_mappings(Task, rows)  # type: ignore[arg-type]
        s.commit()
        uid = me.id
    view = WorkerView()
    for label, mine in (("project", None), ("mine", uid)):
        with rt.sessions() as s:
            def page(cursor: str | None, mine: str | None = mine, s=s):  # type: ignore[no-untyped-def]
                return list_tasks(s, rt, view, "default", status=None, generator=None, limit=PAGE, cursor=cursor,
                                  created_by=mine)

            t0 = time.perf_counter()
            result = page(None)
            first = time.perf_counter() - t0
            n, t0 = 1, time.perf_counter()
            while result.next and n < PAGES:
                result = page(result.next)
                n += 1
            deep = (time.perf_counter() - t0) / max(1, n - 1)
        print(f"{rt.engine.dialect.name} {label}: first page {first * 1000:.1f} ms, "
              f"pages 2..{n} {deep * 1000:.1f} ms each")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
