"""PayloadCMS mode: a Payload-like REST server gets the task written onto its document."""

from __future__ import annotations

import secrets

from tests.callbacks.conftest import admin, wait_deliveries
from tests.callbacks.receivers import PayloadLike

ORDER = ["queued", "running", "succeeded"]


def connect(stack, project: str, server: PayloadLike, api_key: str, **extra) -> dict:
    with admin(stack) as c:
        r = c.put(
            f"/admin/projects/{project}/callbacks/payload",
            json={"base_url": server.url(""), "auth_slug": server.slug, "api_key": api_key, **extra},
        )
    assert r.status_code == 200, r.text
    return r.json()


def test_payload__document_patched_through_the_task_life(cb_stack):
    api_key = "pk-" + secrets.token_hex(16)
    server = PayloadLike("users", api_key, missing_first=2).start()  # the hook has not committed yet
    project, key = cb_stack.new_project()
    try:
        public = connect(cb_stack, project, server, api_key, upload_collection="media")
        assert public["api_key_set"] is True and api_key not in str(public)
        with admin(cb_stack) as c:
            config = c.get(f"/admin/projects/{project}/callbacks")
        assert config.status_code == 200 and api_key not in config.text
        assert config.json()["payload"]["fields"]["status"] == "reelStatus"

        with cb_stack.client(key) as c:
            task = cb_stack.submit(
                params={"text": "for the cms", "steps": 3}, client=c, cms={"collection": "scenes", "id": 7}
            )
        cb_stack.follow(task["id"], key=key)
        server.wait_for(lambda _reqs: server.docs.get("scenes/7", {}).get("reelStatus") == "succeeded")
        rows = wait_deliveries(
            cb_stack, task["id"], lambda rows: all(r["status"] != "pending" for r in rows), key=key
        )
    finally:
        server.stop()

    assert server.refused == 0  # every request carried "users API-Key <key>"
    doc = server.docs["scenes/7"]
    assert doc["reelTaskId"] == task["id"]
    assert doc["reelProgress"] == 1.0 and doc["reelError"] is None
    assert doc["reelMedia"] == [1]  # uploaded once into the media collection, then linked
    assert len(server.media) == 1 and server.media[1]["filename"] == "echo-0.txt"
    (output,) = doc["reelOutputs"]
    assert output == {
        "name": "echo-0.txt",
        "url": server.url("/api/media/file/echo-0.txt"),
        "mediaType": "text/plain",
        "bytes": len("for the cms"),
    }
    statuses = [p["reelStatus"] for p in server.patches["scenes/7"]]
    assert statuses[:3] == ["queued", "queued", "queued"]  # 404, 404, then 200: retried like a 5xx
    assert [ORDER.index(s) for s in statuses] == sorted(ORDER.index(s) for s in statuses)
    first = rows[0]
    assert [a["status_code"] for a in first["attempts"]] == [404, 404, 200]
    assert all(r["kind"] == "cms" and r["url"] == server.url("/api/scenes/7") for r in rows)
    assert {r["status"] for r in rows} <= {"delivered", "superseded"}
    for proc in cb_stack.workers:
        assert api_key not in proc.log()


def test_payload__bad_api_key_is_a_403_recorded_and_retried(cb_stack):
    server = PayloadLike("users", "the-right-key").start()
    project, key = cb_stack.new_project()
    try:
        connect(cb_stack, project, server, "a-wrong-key", fields={"message": None, "status": "state"})
        with cb_stack.client(key) as c:
            task = cb_stack.submit(params={"text": "x"}, client=c, cms={"collection": "scenes", "id": "abc"})
        rows = wait_deliveries(
            cb_stack, task["id"], lambda rows: rows and len(rows[0]["attempts"]) >= 2, key=key
        )
        assert rows[0]["attempts"][0]["status_code"] == 403
        assert "API key" in rows[0]["last_error"]
        # the admin fixes the key: the pending updates go through, renamed fields and all
        connect(cb_stack, project, server, "the-right-key", fields={"message": None, "status": "state"})
        server.wait_for(lambda _reqs: server.docs.get("scenes/abc", {}).get("state") == "succeeded")
    finally:
        server.stop()
    assert "reelMessage" not in server.docs["scenes/abc"] and "reelStatus" not in server.docs["scenes/abc"]


def test_cms_target__refused_for_a_project_without_payload_settings(cb_stack):
    _, key = cb_stack.new_project()
    with cb_stack.client(key) as c:
        r = c.post(
            "/tasks/submit",
            json={
                "generator": "test.echo",
                "params": {"text": "x"},
                "cms": {"collection": "scenes", "id": 1},
            },
        )
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "cms_not_configured"


def test_payload_settings__admin_only(cb_stack):
    with cb_stack.client() as c:
        assert c.get(f"/admin/projects/{cb_stack.project}/callbacks").status_code == 403
        assert (
            c.put(
                f"/admin/projects/{cb_stack.project}/callbacks/payload",
                json={"base_url": "http://x", "api_key": "k"},
            ).status_code
            == 403
        )
    with admin(cb_stack) as c:
        assert c.get("/admin/projects/nope/callbacks").status_code == 404
