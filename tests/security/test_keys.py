"""API keys: listing, expiry, last use, revocation on every API process, and what a key may see."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from reel_host.api import deps
from reel_host.records.models import Worker
from reel_host.services import auth

from tests.security.conftest import ADMIN_KEY
from tests.utils.stack import ApiServer, free_port, settings_from_env


def admin(api) -> httpx.Client:
    return httpx.Client(base_url=api.url + "/api/v1", headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=30)


def test_list_keys__own_project_or_admin_never_the_key(api):
    project, key = api.new_project()
    with api.client(key) as c:
        mine = c.get(f"/projects/{project}/keys")
        assert mine.status_code == 200
        [row] = mine.json()["data"]
        assert row["prefix"] == key[:12] and key not in mine.text
        assert set(row) == {"id", "project", "prefix", "name", "created_at", "last_used_at", "expires_at",
                            "revoked_at"}
        assert c.get("/projects/default/keys").status_code == 404  # another project's keys: not found
    with admin(api) as c:
        assert [k["id"] for k in c.get(f"/projects/{project}/keys").json()["data"]] == [row["id"]]


def test_create_key__admin_with_expiry_shown_once(api):
    project, _ = api.new_project()
    expires = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    with admin(api) as c:
        r = c.post(f"/projects/{project}/keys", json={"name": "cms", "expires_at": expires})
        assert r.status_code == 201, r.text
        created = r.json()
        assert created["key"].startswith("reel_") and created["expires_at"]
        listed = c.get(f"/projects/{project}/keys").json()["data"]
        assert created["key"] not in str(listed)
        past = c.post(f"/projects/{project}/keys", json={"expires_at": "2001-01-01T00:00:00Z"})
        assert past.status_code == 422
    with api.client(created["key"]) as c:
        assert c.get(f"/projects/{project}/tasks").status_code == 200


def test_expired_key__is_refused(api, monkeypatch):
    project, _ = api.new_project()
    with admin(api) as a:
        created = a.post(f"/projects/{project}/keys",
                         json={"expires_at": (datetime.now(UTC) + timedelta(days=1)).isoformat()}).json()
    with api.client(created["key"]) as c:
        assert c.get(f"/projects/{project}/tasks").status_code == 200
        later = datetime.now(UTC) + timedelta(days=2)
        monkeypatch.setattr(auth, "utcnow", lambda: later)  # the API runs in this process: two days pass
        r = c.get(f"/projects/{project}/tasks")  # even though this process cached the key a moment ago
        assert r.status_code == 401 and "expired" in r.json()["error"]["message"]


def test_last_use__recorded(api):
    project, key = api.new_project()
    with api.client(key) as c:
        c.get(f"/projects/{project}/tasks")
        [row] = c.get(f"/projects/{project}/keys").json()["data"]
    assert row["last_used_at"] is not None


def test_revoke__by_own_project_key_effective_at_once(api):
    project, key = api.new_project()
    with admin(api) as a:
        other = a.post(f"/projects/{project}/keys", json={"name": "second"}).json()
    with api.client(other["key"]) as c:  # cached by this process before it is revoked
        assert c.get(f"/projects/{project}/tasks").status_code == 200
    with api.client(key) as c:
        assert c.delete(f"/projects/default/keys/{other['id']}").status_code == 404  # wrong project in the path
        r = c.delete(f"/projects/{project}/keys/{other['id']}")
        assert r.status_code == 200 and r.json()["revoked_at"]
    with api.client(other["key"]) as c:
        assert c.get(f"/projects/{project}/tasks").status_code == 401
    with api.client(api.key) as c:  # a key of another project cannot revoke this project's keys
        assert c.delete(f"/projects/{project}/keys/{other['id']}").status_code == 404


def test_revoke__seen_by_another_api_process(api, tmp_path):
    """A second API server on the same records (its own key cache) stops taking a key revoked on the first."""
    project, key = api.new_project()
    env = {**api.env, "REEL_KEY_REVOCATION_POLL_S": "0"}  # look at every request: no waiting in a test
    second = ApiServer(settings_from_env(env), free_port())
    second.start()
    url = f"http://127.0.0.1:{second.server.config.port}/api/v1"
    try:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as c:
            assert c.get(f"/projects/{project}/tasks").status_code == 200  # now in the second's cache
            with api.client(key) as first:
                [row] = first.get(f"/projects/{project}/keys").json()["data"]
                assert first.delete(f"/projects/{project}/keys/{row['id']}").status_code == 200
            assert c.get(f"/projects/{project}/tasks").status_code == 401
    finally:
        second.stop()


def test_key_cache__forgets_a_revoked_key_within_the_poll_interval(api, monkeypatch):
    """With the default 1 s poll and 10 s cache, a revoked key passes at most until the next poll."""
    project, key = api.new_project()
    clock = [1000.0]
    monkeypatch.setattr(deps.time, "monotonic", lambda: clock[0])
    cache = deps.KeyCache(ttl_s=10.0, revocation_poll_s=1.0, last_use_every_s=60.0)
    with api.runtime.sessions() as session:
        assert cache.project(session, key) == project
        identity = auth.lookup_key(session, key)
        auth.revoke_key(session, identity.key_id)
        session.commit()
    with api.runtime.sessions() as session:
        clock[0] += 0.5
        assert cache.project(session, key) == project  # cached, no poll yet
        clock[0] += 0.6
        assert cache.project(session, key) is None  # 1.1 s later: polled and forgotten


def test_cli_keys__list_and_revoke(api):
    project, key = api.new_project()
    env = {**api.env}
    run = [sys.executable, "-m", "reel_host.cli.main", "keys"]
    listed = subprocess.run([*run, "list", "-p", project], env={**__import__("os").environ, **env},
                            capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert key[:12] in listed.stdout and key not in listed.stdout
    with api.runtime.sessions() as session:
        key_id = auth.lookup_key(session, key).key_id
    revoked = subprocess.run([*run, "revoke", key_id], env={**__import__("os").environ, **env},
                             capture_output=True, text=True, timeout=60)
    assert revoked.returncode == 0 and "revoked" in revoked.stdout, revoked.stderr
    missing = subprocess.run([*run, "revoke", "key_nope"], env={**__import__("os").environ, **env},
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1


@pytest.fixture()
def busy_worker(api):
    """A worker record (as its heartbeat writes it) running a task of a fresh project."""
    project, key = api.new_project()
    task = api.submit(client=api.client(key))
    with api.runtime.sessions() as session:
        session.add(Worker(id=f"w-{task['id']}", hostname="gpu-box-17.internal", pool=f"p-{task['id']}", pid=1,
                           current_task_id=task["id"], status="online"))
        session.commit()
    yield project, key, task
    with api.runtime.sessions() as session:
        session.delete(session.get(Worker, f"w-{task['id']}"))
        session.commit()


def _worker(client: httpx.Client, task_id: str) -> dict:
    return next(w for w in client.get("/workers/status").json()["data"] if w["id"] == f"w-{task_id}")


def test_workers_status__hostname_and_task_only_to_admin_or_the_tasks_project(api, busy_worker):
    project, key, task = busy_worker
    with api.client() as stranger:
        w = _worker(stranger, task["id"])
        assert (w["hostname"], w["current_task"]) == (None, None)
        assert "gpu-box-17" not in stranger.get("/workers/status").text
    with api.client(key) as owner:
        w = _worker(owner, task["id"])
        assert (w["hostname"], w["current_task"]) == ("gpu-box-17.internal", task["id"])
    with admin(api) as a:
        w = _worker(a, task["id"])
        assert (w["hostname"], w["current_task"]) == ("gpu-box-17.internal", task["id"])
