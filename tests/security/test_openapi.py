"""The OpenAPI document tells the truth: each operation's error answers, the bearer scheme, header bounds."""

from __future__ import annotations

import httpx


def spec_of(api) -> dict:
    return httpx.get(api.url + "/openapi.json").json()


def test_openapi__every_error_answer_has_the_envelope(api):
    spec = spec_of(api)
    envelope = {"$ref": "#/components/schemas/ErrorEnvelope"}
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            responses = op["responses"]
            assert {"400", "422", "503"} <= set(responses), (method, path)
            for status, answer in responses.items():
                if status.startswith(("4", "5")) and not (path.endswith("/health") and status == "503"):
                    assert answer["content"]["application/json"]["schema"] == envelope, (method, path, status)
    submit = spec["paths"]["/api/v1/tasks/submit"]["post"]["responses"]
    assert {"401", "409", "413", "429", "503"} <= set(submit)
    assert "Retry-After" in submit["429"]["headers"]
    assert "403" in spec["paths"]["/api/v1/projects"]["post"]["responses"]
    assert "404" in spec["paths"]["/api/v1/tasks/{task_id}/status"]["get"]["responses"]
    assert "HTTPValidationError" not in spec["components"]["schemas"]


def test_openapi__bearer_scheme_and_idempotency_key_bounds(api):
    spec = spec_of(api)
    bearer = spec["components"]["securitySchemes"]["bearer"]
    assert (bearer["type"], bearer["scheme"]) == ("http", "bearer")
    assert spec["paths"]["/api/v1/tasks/{task_id}/status"]["get"]["security"] == [{"bearer": []}, {"session": []}]
    assert spec["paths"]["/api/v1/projects"]["post"]["security"] == [{"bearer": []}]
    assert "security" not in spec["paths"]["/api/v1/files/{token}"]["get"]
    [param] = [p for p in spec["paths"]["/api/v1/tasks/submit"]["post"]["parameters"] if p["name"] == "Idempotency-Key"]
    assert (param["schema"]["minLength"], param["schema"]["maxLength"]) == (1, 255)


def test_idempotency_key_over_the_bound__refused(api):
    with api.client() as c:
        r = c.post("/tasks/submit", json={"generator": "test.echo", "params": {"text": "x"}},
                   headers={"Idempotency-Key": "k" * 256})
    assert r.status_code in (400, 422) and r.json()["error"]["code"]
