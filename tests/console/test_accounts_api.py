"""Console accounts over a real server: first run, login, CSRF, expiry, throttling, invitations, roles,
isolation between users and projects, and tasks submitted with a login."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import httpx
from reel_host.records.models import Task, User, UserSession, utcnow
from sqlalchemy import select, update

from tests.console.browser import Browser
from tests.console.conftest import LOGIN_BURST, PASSWORD, invite_and_signup
from tests.utils.stack import make_stack


def test_first_run__first_signup_is_admin_and_owner_of_default(console_stack, admin):
    me = admin.get("/auth/me").json()
    assert me["email"] == "Admin@Example.com"
    assert me["is_admin"] is True
    assert me["projects"] == [{"project": "default", "role": "owner"}]
    setup = httpx.get(console_stack.url + "/api/v1/auth/setup").json()
    assert setup == {"first_run": False, "signup": "invite", "embedded": True}


def test_signup__refused_without_invitation_once_an_admin_exists(console_stack, admin):
    r = Browser(console_stack.url).signup("stranger@example.com")
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "signup_closed"


def test_signup__email_is_unique_case_insensitively(console_stack, admin):
    r = admin.post("/projects/default/invitations", json={"email": "ADMIN@example.COM"})
    token = r.json()["link"].rsplit("/", 1)[1]
    r = Browser(console_stack.url).signup("admin@EXAMPLE.com", invitation=token)
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "email_taken"


def test_login__cookie_is_httponly_lax_and_not_secure_in_embedded_mode(console_stack, admin):
    b = Browser(console_stack.url)
    r = b.login("admin@example.com")  # another case than at signup
    assert r.status_code == 200, r.text
    cookies = r.headers.get_list("set-cookie")
    session_cookie = next(c for c in cookies if c.startswith("reel_session="))
    assert "HttpOnly" in session_cookie and "SameSite=lax" in session_cookie and "Secure" not in session_cookie
    csrf_cookie = next(c for c in cookies if c.startswith("reel_csrf="))
    assert "HttpOnly" not in csrf_cookie
    assert r.json()["csrf_token"] == b.cookies["reel_csrf"]


def test_login__wrong_password_unknown_email_and_locked_account_fail_alike(console_stack, admin):
    locked = invite_and_signup(console_stack, admin, "default", "locked@example.com")
    with console_stack.runtime.sessions() as session:
        session.execute(update(User).where(User.email_key == "locked@example.com").values(locked_at=utcnow()))
        session.commit()
    answers = [Browser(console_stack.url).login(email, password).json()
               for email, password in (("admin@example.com", "wrong password!"), ("nobody@example.com", PASSWORD),
                                       ("locked@example.com", PASSWORD))]
    assert all(a == answers[0] for a in answers)
    assert answers[0]["error"]["code"] == "invalid_credentials"
    assert locked.get("/auth/me").status_code == 401  # the locked account's login stops working too


def test_csrf__unsafe_method_with_cookie_needs_the_token(console_stack, admin):
    b = Browser(console_stack.url)
    b.login("admin@example.com")
    bare = Browser(console_stack.url, csrf=False)
    bare.cookies = b.cookies
    for r in (bare.post("/auth/logout"), bare.post("/tasks/submit", json={"generator": "test.echo"}),
              bare.post("/auth/logout", headers={"X-CSRF-Token": "forged"})):
        assert r.status_code == 403
        assert r.json()["error"]["code"] == "csrf_failed"
    assert bare.get("/auth/me").status_code == 200  # reading needs no token
    assert b.post("/auth/logout").status_code == 204
    r = bare.get("/auth/me")
    assert r.status_code == 401 and r.json()["error"]["code"] == "session_expired"


def test_session__expired_record_logs_out(console_stack, admin):
    b = Browser(console_stack.url)
    b.login("admin@example.com")
    with console_stack.runtime.sessions() as session:
        me = session.scalars(select(User).where(User.email_key == "admin@example.com")).one()
        session.execute(update(UserSession).where(UserSession.user_id == me.id)
                        .values(expires_at=utcnow() - timedelta(seconds=1)))
        session.commit()
    r = b.get("/auth/me")
    assert r.status_code == 401 and r.json()["error"]["code"] == "session_expired"
    assert admin.get("/auth/me").status_code == 401  # every login of that user expired
    assert admin.login("admin@example.com").status_code == 200


def test_session__survives_a_restart_of_the_api(console_stack, admin, tmp_path):
    from tests.utils.stack import ApiServer, free_port, settings_from_env

    port = free_port()
    other = ApiServer(settings_from_env(console_stack.env), port)  # a second API process on the same records
    other.start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}/api/v1", cookies=admin.cookies) as c:
            assert c.get("/auth/me").json()["email"] == "Admin@Example.com"
    finally:
        other.stop()


def test_password_change__ends_other_logins_keeps_this_one(console_stack, admin):
    user = invite_and_signup(console_stack, admin, "default", "changer@example.com")
    elsewhere = Browser(console_stack.url)
    elsewhere.login("changer@example.com")
    r = user.post("/auth/password", json={"current_password": "nope nope nope", "new_password": "x" * 12})
    assert r.status_code == 401
    r = user.post("/auth/password", json={"current_password": PASSWORD, "new_password": "short"})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "password"
    assert user.post("/auth/password", json={"current_password": PASSWORD, "new_password": "new password 123"}
                     ).status_code == 204
    assert user.get("/auth/me").status_code == 200
    assert elsewhere.get("/auth/me").status_code == 401
    assert Browser(console_stack.url).login("changer@example.com", "new password 123").status_code == 200


def test_cli__reset_password_and_invite_print_one_time_links(console_stack, admin):
    env = {**console_stack.env, "PYTHONPATH": ":".join(sys.path)}
    run = [sys.executable, "-m", "reel_host.cli.main"]
    invite_and_signup(console_stack, admin, "default", "forgetful@example.com")
    out = subprocess.run([*run, "users", "reset-password", "forgetful@example.com"], env=env,
                         capture_output=True, text=True, check=True).stdout.strip()
    assert out.startswith(console_stack.url + "/reset/")
    token = out.rsplit("/", 1)[1]
    r = httpx.post(console_stack.url + "/api/v1/auth/reset", json={"token": token, "password": "brand new pass"})
    assert r.status_code == 204
    assert httpx.post(console_stack.url + "/api/v1/auth/reset",
                      json={"token": token, "password": "again again!"}).status_code == 404
    assert Browser(console_stack.url).login("forgetful@example.com", "brand new pass").status_code == 200

    out = subprocess.run([*run, "users", "invite", "--project", "default", "cli-invited@example.com"], env=env,
                         capture_output=True, text=True, check=True).stdout.strip()
    token = out.rsplit("/", 1)[1]
    preview = httpx.get(console_stack.url + f"/api/v1/auth/invitations/{token}").json()
    assert preview["project"] == "default" and preview["role"] == "member"
    assert Browser(console_stack.url).signup("cli-invited@example.com", invitation=token).status_code == 201


def test_invitation__flow_reuse_other_email_and_revoke(console_stack, admin):
    r = admin.post("/projects/default/invitations", json={"email": "new@example.com"})
    inv = r.json()
    token = inv["link"].rsplit("/", 1)[1]
    assert [i["id"] for i in admin.get("/projects/default/invitations").json()["data"]].count(inv["id"]) == 1
    assert "link" not in admin.get("/projects/default/invitations").json()["data"][0] or \
        admin.get("/projects/default/invitations").json()["data"][0]["link"] is None
    r = Browser(console_stack.url).signup("other@example.com", invitation=token)
    assert r.status_code == 403 and r.json()["error"]["code"] == "invitation_other_email"
    new = Browser(console_stack.url)
    assert new.signup("New@Example.com", invitation=token).status_code == 201
    assert new.get("/auth/me").json()["projects"] == [{"project": "default", "role": "member"}]
    assert Browser(console_stack.url).signup("new2@example.com", invitation=token).status_code == 404

    revoked = admin.post("/projects/default/invitations", json={"email": "late@example.com"}).json()
    assert admin.delete(f"/projects/default/invitations/{revoked['id']}").status_code == 204
    r = httpx.get(console_stack.url + f"/api/v1/auth/invitations/{revoked['link'].rsplit('/', 1)[1]}")
    assert r.status_code == 404


def test_roles__members_cannot_manage_owners_can_last_owner_stays(console_stack, admin):
    member = invite_and_signup(console_stack, admin, "default", "plain@example.com")
    member_id = member.get("/auth/me").json()["id"]
    admin_id = admin.get("/auth/me").json()["id"]
    assert member.get("/projects/default/members").status_code == 200
    for r in (member.post("/projects/default/invitations", json={"email": "x@example.com"}),
              member.get("/projects/default/invitations"),
              member.put(f"/projects/default/members/{admin_id}", json={"role": "member"})):
        assert r.status_code == 403, r.text
    r = admin.put(f"/projects/default/members/{admin_id}", json={"role": "member"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "last_owner"
    r = admin.put(f"/projects/default/members/{member_id}", json={"role": "owner"})
    assert r.status_code == 200 and r.json()["role"] == "owner"
    assert admin.put(f"/projects/default/members/{member_id}", json={"role": "member"}).status_code == 200
    assert admin.put(f"/projects/default/members/{member_id}", json={"role": "boss"}).status_code == 422
    assert member.delete(f"/projects/default/members/{member_id}").status_code == 204  # leaving
    assert member.get("/projects/default/members").status_code == 404


def test_tasks__login_submits_reads_follows_lists_mine_and_deletes(console_stack, admin):
    r = admin.post("/tasks/submit", json={"generator": "test.echo", "params": {"text": "from the console"}})
    assert r.status_code == 202, r.text
    task = r.json()
    assert task["project"] == "default"
    done = console_stack.follow(task["id"])  # by the project key: the same task
    assert done["status"] == "succeeded"
    with console_stack.runtime.sessions() as session:
        assert session.get(Task, task["id"]).created_by == admin.get("/auth/me").json()["id"]
    assert admin.get(f"/tasks/{task['id']}/status").json()["status"] == "succeeded"
    assert admin.get(f"/tasks/{task['id']}/logs").json()["data"][0]["message"].startswith("echo starting")
    key_task = console_stack.submit()  # a key's task: created_by stays null, not "mine"
    mine = admin.get("/projects/default/tasks", params={"mine": "true", "limit": 200}).json()["data"]
    ids = [t["id"] for t in mine]
    assert task["id"] in ids and key_task["id"] not in ids
    everyone = [t["id"] for t in admin.get("/projects/default/tasks", params={"limit": 200}).json()["data"]]
    assert key_task["id"] in everyone
    with console_stack.client() as c:
        assert c.get("/projects/default/tasks", params={"mine": "true"}).status_code == 400
    stored = console_stack.tmp / "home" / "storage" / "projects" / "default" / "tasks" / task["id"]
    assert any(p.is_file() for p in stored.rglob("*"))
    assert admin.delete(f"/tasks/{task['id']}").status_code == 204
    assert admin.get(f"/tasks/{task['id']}/status").status_code == 404
    assert not any(p.is_file() for p in stored.rglob("*"))  # its stored files went with it


def test_tasks__submit_project_field_for_keys_and_logins(console_stack, admin):
    other, other_key = console_stack.new_project()
    with console_stack.client() as c:
        r = c.post("/tasks/submit", json={"generator": "test.echo", "params": {"text": "x"}, "project": other})
        assert r.status_code == 404  # a key acts only in its own project
        r = c.post("/tasks/submit", json={"generator": "test.echo", "params": {"text": "x"}, "project": "default"})
        assert r.status_code == 202
    r = admin.post("/tasks/submit", json={"generator": "test.echo", "params": {"text": "x"}, "project": other})
    assert r.status_code == 404 and r.json()["error"]["code"] == "project_not_found"


def test_isolation__a_user_of_another_project_sees_nothing(console_stack, admin):
    task = admin.post("/tasks/submit", json={"generator": "test.echo", "params": {"text": "private"}}).json()
    console_stack.follow(task["id"])
    other, _ = console_stack.new_project()
    with console_stack.runtime.sessions() as session:  # an owner of another project
        from reel_host.services import accounts
        user = accounts.create_user(session, console_stack.runtime.settings, "outsider@example.com", PASSWORD)
        accounts.add_member(session, other, user, "owner")
        session.commit()
    outsider = Browser(console_stack.url)
    assert outsider.login("outsider@example.com").status_code == 200
    tid = task["id"]
    for r in (outsider.get(f"/tasks/{tid}/status"), outsider.get(f"/tasks/{tid}/logs"),
              outsider.get(f"/tasks/{tid}/attempts"), outsider.get(f"/tasks/{tid}/events"),
              outsider.post(f"/tasks/{tid}/retry"), outsider.delete(f"/tasks/{tid}/cancel"),
              outsider.delete(f"/tasks/{tid}"), outsider.post(f"/tasks/{tid}/events/token"),
              outsider.get("/projects/default/tasks"), outsider.get("/projects/default/members"),
              outsider.get("/projects/default/invitations"),
              outsider.post("/tasks/submit", json={"generator": "test.echo", "params": {"text": "x"},
                                                   "project": "default"})):
        assert r.status_code == 404, (r.request.url, r.text)
    assert outsider.get(f"/projects/{other}/tasks").status_code == 200
    assert admin.get(f"/projects/{other}/tasks").status_code == 404  # an admin's login is no master key


def test_login_throttling__per_account(console_stack, admin):
    b = Browser(console_stack.url)
    codes = [b.login("throttled@example.com", "wrong password").status_code for _ in range(LOGIN_BURST + 1)]
    assert codes == [401] * LOGIN_BURST + [429]
    r = b.login("throttled@example.com", "wrong password")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert r.json()["error"]["code"] == "too_many_requests"


def test_login_throttling__per_address(tmp_path):
    env = {"REEL_LOGIN_ADDRESS_BURST": "3", "REEL_LOGIN_ADDRESS_RATE_PER_S": "0.001"}
    with make_stack("embedded", tmp_path, env) as s:
        codes = [Browser(s.url).login(f"u{i}@example.com", "wrong password").status_code for i in range(4)]
    assert codes == [401, 401, 401, 429]


def test_distributed__no_first_visitor_admin_secure_cookie_and_create_admin(tmp_path):
    with make_stack("distributed", tmp_path) as s:
        setup = httpx.get(s.url + "/api/v1/auth/setup").json()
        assert setup == {"first_run": False, "signup": "invite", "embedded": False}
        r = Browser(s.url).signup("first@example.com")
        assert r.status_code == 403 and r.json()["error"]["code"] == "signup_closed"
        env = {**s.env, "PYTHONPATH": ":".join(sys.path)}
        out = subprocess.run([sys.executable, "-m", "reel_host.cli.main", "users", "create-admin", "ops@example.com"],
                             env=env, capture_output=True, text=True, check=True).stdout.strip()
        token = out.rsplit("/", 1)[1]
        assert httpx.post(s.url + "/api/v1/auth/reset", json={"token": token, "password": PASSWORD}).status_code == 204
        r = Browser(s.url).login("ops@example.com")
        assert r.status_code == 200 and r.json()["is_admin"] is True
        assert all("Secure" in c for c in r.headers.get_list("set-cookie"))


def test_owner_login__reaches_callback_settings_members_do_not(console_stack, admin):
    member = invite_and_signup(console_stack, admin, "default", "cb-member@example.com")
    r = admin.get("/admin/projects/default/callbacks")
    assert r.status_code == 200 and r.json()["project"] == "default"
    assert admin.post("/admin/projects/default/callbacks/secret/rotate", json={}).status_code == 200
    assert member.get("/admin/projects/default/callbacks").status_code == 403
    other, _ = console_stack.new_project()
    assert admin.get(f"/admin/projects/{other}/callbacks").status_code == 404
    with console_stack.client() as c:  # a project key is not an owner
        assert c.get("/admin/projects/default/callbacks").status_code == 403


def test_ops_queues__instance_admins_only(console_stack, admin):
    r = admin.get("/ops/queues")
    assert r.status_code == 200
    echo = next(q for q in r.json()["data"] if q["generator"] == "test.echo")
    assert echo["queue"] == "reel.gen.test.echo" and echo["workers"] >= 1
    member = invite_and_signup(console_stack, admin, "default", "ops-member@example.com")
    assert member.get("/ops/queues").status_code == 403
    with console_stack.client() as c:
        assert c.get("/ops/queues").status_code == 403
