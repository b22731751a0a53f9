"""Fuzz the whole REST API from its own OpenAPI schema (schemathesis): no input may get a 5xx.

Every operation is called with schema-conforming (positive) and schema-violating (negative) cases,
as a user and as an admin, a bounded number of examples each. The admin reload is left out (it
rebuilds the models in the background: test_serve_api.py checks it under load).
"""

from __future__ import annotations

import contextlib
from collections import Counter
from typing import Any

import pytest
from tests.serve.support import ServerProcess, bearer

pytestmark = pytest.mark.serve

EXAMPLES = 12  # per operation, mode and caller: ~1,000 cases in about a minute


def test_no_input_gets_a_server_error(server: ServerProcess, user_keys: dict[str, str], admin_key: str) -> None:
    schemathesis = pytest.importorskip("schemathesis")
    from hypothesis import HealthCheck, given, settings
    from hypothesis.errors import Unsatisfiable
    from schemathesis.generation import GenerationMode

    schema = schemathesis.openapi.from_url(server.url + "/openapi.json")
    tried: Counter[str] = Counter()
    errors: list[str] = []
    statuses: Counter[int] = Counter()

    def fuzz(label: str, strategy: Any, caller: str, key: str) -> None:
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy)
        def run(case: Any) -> None:
            response = case.call(base_url=server.url, headers=bearer(key), timeout=60)
            tried[label] += 1
            statuses[response.status_code] += 1
            if response.status_code >= 500:
                errors.append(f"{caller} {label} {case.body!r} -> {response.status_code}")

        with contextlib.suppress(Unsatisfiable):  # no schema-violating input exists (no parameters)
            run()

    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path == "/v1/admin/reload":
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            for caller, key in (("user", user_keys["alice"]), ("admin", admin_key)):
                fuzz(operation.label, operation.as_strategy(generation_mode=mode), caller, key)
    total = sum(tried.values())
    print(f"schemathesis: {total} cases over {len(tried)} operations, statuses {dict(sorted(statuses.items()))}")
    assert len(tried) >= 15 and total >= 300
    assert not errors, errors[:10]
