"""Retention (``reel gc``) and the backup/restore procedure of docs/operations.md, on real parts:
PostgreSQL, Redis, a worker, local storage, ``pg_dump``/``pg_restore`` into a fresh instance."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from reel_host.records.models import Task, utcnow
from reel_host.schemas.limits import ProjectLimitsUpdate
from reel_host.services import limits
from sqlalchemy import update

from tests.utils.stack import (
    ApiServer,
    Stack,
    create_pg_database,
    drop_pg_database,
    free_port,
    make_stack,
    settings_from_env,
)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with make_stack("distributed", tmp_path_factory.mktemp("retention")) as s:
        s.start_worker("testplugin", pool="gc")
        yield s


def finished_task(stack: Stack, key: str, text: str) -> dict:
    task = stack.submit("test.echo", {"text": text}, client=stack.client(key))
    done = stack.follow(task["id"], key=key)
    assert done["status"] == "succeeded"
    return done


def backdate(stack: Stack, task_id: str, days: float) -> None:
    with stack.runtime.sessions() as session:
        session.execute(update(Task).where(Task.id == task_id).values(finished_at=utcnow() - timedelta(days=days)))
        session.commit()


def reel(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "reel_host.cli.main", *args], env={**os.environ, **stack.env},
                          capture_output=True, text=True, timeout=120, cwd=stack.tmp)


def task_dir(stack: Stack, project: str, task_id: str) -> Path:
    return Path(stack.env["REEL_HOME"]) / "storage" / "projects" / project / "tasks" / task_id


def test_gc__deletes_finished_tasks_past_their_projects_retention_records_and_files(stack):
    project, key = stack.new_project()
    keeper, keeper_key = stack.new_project()  # no retention: keeps everything
    with stack.runtime.sessions() as session:
        limits.set_limits(session, project, ProjectLimitsUpdate(retention_days=2))
    old, recent = finished_task(stack, key, "old"), finished_task(stack, key, "recent")
    kept = finished_task(stack, keeper_key, "kept")
    backdate(stack, old["id"], 3)
    backdate(stack, recent["id"], 1)
    backdate(stack, kept["id"], 30)
    assert task_dir(stack, project, old["id"]).is_dir()

    listed = reel(stack, "gc", "--dry-run", "--json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)["tasks"] == [old["id"]]
    assert task_dir(stack, project, old["id"]).is_dir()  # a dry run deletes nothing

    done = reel(stack, "gc", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["tasks"] == [old["id"]] and result["bytes"] == len("old")
    with stack.client(key) as c:
        assert c.get(f"/tasks/{old['id']}/status").status_code == 404
        assert c.get(f"/tasks/{recent['id']}/status").json()["status"] == "succeeded"
    assert not task_dir(stack, project, old["id"]).exists()
    assert task_dir(stack, project, recent["id"]).is_dir()
    assert task_dir(stack, keeper, kept["id"]).is_dir()
    assert json.loads(reel(stack, "gc", "--json").stdout)["tasks"] == []  # nothing left to do


def test_backup_and_restore__the_documented_procedure_brings_back_tasks_and_downloads(stack, tmp_path):
    project, key = stack.new_project()
    tasks = [finished_task(stack, key, f"backup {n}") for n in range(2)]
    source_db = stack.env["REEL_DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
    home = Path(stack.env["REEL_HOME"])
    # 1. backup: a database dump, then the storage folder (docs/operations.md, "Backup and restore")
    dump = tmp_path / "reel.dump"
    subprocess.run(["pg_dump", "--format=custom", "--no-owner", f"--file={dump}", source_db], check=True)
    shutil.copytree(home / "storage", tmp_path / "storage-backup")
    # 2. restore into a fresh instance: a new database and a new home
    name, url = create_pg_database()
    try:
        subprocess.run(["pg_restore", "--no-owner", "--exit-on-error",
                        f"--dbname={url.replace('postgresql+psycopg://', 'postgresql://')}", str(dump)], check=True)
        fresh_home = tmp_path / "fresh"
        shutil.copytree(tmp_path / "storage-backup", fresh_home / "storage")
        port = free_port()
        env = {**stack.env, "REEL_DATABASE_URL": url, "REEL_HOME": str(fresh_home),
               "REEL_PUBLIC_URL": f"http://127.0.0.1:{port}"}
        api = ApiServer(settings_from_env(env), port)
        api.runtime.migrate()  # a restored dump of an older version is brought up to date
        api.start()
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}/api/v1", timeout=30,
                              headers={"Authorization": f"Bearer {key}"}) as c:  # the same key works
                listed = c.get(f"/projects/{project}/tasks").json()["data"]
                assert sorted(t["id"] for t in listed) == sorted(t["id"] for t in tasks)
                for task in tasks:
                    restored = c.get(f"/tasks/{task['id']}/status").json()
                    assert restored["status"] == "succeeded"
                    [output] = restored["outputs"]
                    assert output["url"].startswith(f"http://127.0.0.1:{port}/")
                    download = httpx.get(output["url"], timeout=30)
                    assert download.status_code == 200 and download.text == task["params"]["text"]
        finally:
            api.stop()
            api.runtime.engine.dispose()
    finally:
        drop_pg_database(name)
