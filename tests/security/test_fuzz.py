"""schemathesis against a real running API (embedded mode): every operation, with a project key,
the admin key and no key; no 5xx, and every answer conforms to the OpenAPI document.

Examples per operation: ``REEL_FUZZ_EXAMPLES`` (default 8, so the suite stays fast). The larger
run (docs/security.md): ``REEL_FUZZ_EXAMPLES=300 pytest tests/security/test_fuzz.py -q``, and
``REEL_FUZZ_MODE=distributed`` for PostgreSQL and Redis.
"""

from __future__ import annotations

import os
import traceback

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.security.conftest import ADMIN_KEY
from tests.utils.stack import make_stack

EXAMPLES = int(os.environ.get("REEL_FUZZ_EXAMPLES", "8"))
MODE = os.environ.get("REEL_FUZZ_MODE", "embedded")  # distributed: PostgreSQL and Redis (documented runs)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]


@pytest.fixture(scope="module")
def fuzz_stack(tmp_path_factory):
    env = {"REEL_ADMIN_KEY": ADMIN_KEY, "REEL_AUTH_FAIL_BURST": "100000", "REEL_MAX_BODY_BYTES": "65536"}
    with make_stack(MODE, tmp_path_factory.mktemp("fuzz"), env) as s:
        yield s


@pytest.mark.timeout(300 + EXAMPLES * 20)  # the larger documented runs outlast the suite's 300 s per test
def test_api__no_5xx_and_answers_conform(fuzz_stack):
    """Each operation gets EXAMPLES generated requests (valid and invalid), each sent three times:
    with the project key, the admin key and no key. Failures of all operations are reported together."""
    schema = schemathesis.openapi.from_url(fuzz_stack.url + "/openapi.json")
    failures: dict[str, str] = {}
    operations = 0
    calls: list[int] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=st.one_of(operation.as_strategy(GenerationMode.POSITIVE),
                              operation.as_strategy(GenerationMode.NEGATIVE)))
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
        def run(case):
            for token in (fuzz_stack.key, ADMIN_KEY, None):
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                case.call_and_validate(base_url=fuzz_stack.url, headers=headers, checks=CHECKS, timeout=30)
                calls.append(1)

        try:
            run()
        except Exception as exc:  # noqa: BLE001 - collected, then reported for every operation at once
            failures[operation.label] = "".join(traceback.format_exception(exc))[-4000:]
    assert operations >= 20 and len(calls) >= operations * 3
    assert failures == {}, "\n\n".join(f"{k}:\n{v}" for k, v in failures.items())
