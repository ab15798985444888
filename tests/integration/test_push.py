"""Push, not poll: `Prefer: wait=N` answers when the task ends, SSE streams hear changes at once."""

from __future__ import annotations

from tests.utils.stack import Stack


def test_prefer_wait_on_submit_answers_with_the_finished_task(stack: Stack) -> None:
    with stack.client() as c:
        r = c.post("/tasks/submit", json={"generator": "test.echo", "params": {"text": "wait for me"}},
                   headers={"Prefer": "wait=30"})
    assert r.status_code == 202, r.text
    assert r.headers["Preference-Applied"] == "wait=30"
    assert r.json()["status"] == "succeeded", r.json()


def test_prefer_wait_on_status__finished_task_or_the_task_as_it_is_after_n_seconds(stack: Stack) -> None:
    task = stack.submit("test.slow", params={"seconds": 0.8})
    with stack.client() as c:
        r = c.get(f"/tasks/{task['id']}/status", headers={"Prefer": "wait=1"})
        assert r.status_code == 200 and r.headers["Preference-Applied"] == "wait=1"
        assert r.json()["status"] in ("queued", "running", "succeeded")
        done = c.get(f"/tasks/{task['id']}/status", headers={"Prefer": "wait=30"}).json()
        assert done["status"] == "succeeded"
        plain = c.get(f"/tasks/{task['id']}/status")
        assert "Preference-Applied" not in plain.headers


def test_prefer_wait_is_capped_and_bad_values_are_ignored(stack: Stack) -> None:
    task = stack.submit()
    with stack.client() as c:
        r = c.get(f"/tasks/{task['id']}/status", headers={"Prefer": "wait=999999"})
        assert r.headers["Preference-Applied"] == f"wait={stack.runtime.settings.max_wait_s:g}"
        r = c.get(f"/tasks/{task['id']}/status", headers={"Prefer": "wait=soon, respond-async"})
        assert r.status_code == 200 and "Preference-Applied" not in r.headers


def test_sse_hears_the_end_by_push(stack: Stack) -> None:
    """The stream's fallback look is 5 s in tests: an end seen sooner came by push."""
    task = stack.submit(params={"text": "pushed", "steps": 2, "step_s": 0.05})
    done = stack.follow(task["id"], timeout=60)
    assert done["status"] == "succeeded"
    assert stack.api.app.state.task_hub.delivered > 0
