"""Every documented API route, fuzzed from the OpenAPI document: 4xx for bad input, never 5xx.

Schemathesis generates valid and invalid requests (wrong types, malformed bodies, unknown
fields, bad cursors and tokens) for each operation: EXAMPLES per operation in each of its two
generation modes. The test counts what it sent and requires at least MIN_CASES per database.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis.generation import GenerationMode

from takedown.service import PlatformCredentials
from tests.factories import bearer, submit_case, video_hash

EXAMPLES = 30
MIN_CASES = 300


def test_no_api_route_answers_a_server_error(app: Flask, platform: PlatformCredentials) -> None:
    submit_case(app.test_client(), [video_hash()])
    credentials = {
        **bearer(platform.api_key),
        "x-functions-key": platform.stopncii_fetch_function_key,
        "Ocp-Apim-Subscription-Key": platform.stopncii_subscription_key,
    }
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    sent: list[tuple[str, str, int]] = []
    failures: list[str] = []

    def check(case: Any) -> None:
        response = case.call(headers={**credentials, **(case.headers or {})})
        sent.append((case.method, case.path, response.status_code))
        if response.status_code >= 500:
            failures.append(f"{case.method} {case.formatted_path}: {response.status_code}")
        elif response.status_code >= 400:
            body = response.json()
            if not (isinstance(body, dict) and {"code", "message"} <= set(body.get("error", {}))):
                failures.append(f"{case.method} {case.formatted_path}: non-JSON error")

    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            run = settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )(given(operation.as_strategy(generation_mode=mode))(check))
            run()

    assert failures == []
    assert len(operations) >= 7
    assert len(sent) >= MIN_CASES, f"only {len(sent)} generated requests were sent"
    assert any(400 <= status < 500 for *_, status in sent)
