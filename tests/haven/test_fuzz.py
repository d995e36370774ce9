"""Every documented API route, fuzzed from the OpenAPI document: 4xx for bad input, never 5xx.

Schemathesis generates valid and invalid requests (wrong types, malformed bodies, unknown
fields, bad cursors and tokens) for each operation: EXAMPLES per operation in each of its two
generation modes. Each request carries the credentials its operation declares in the document
(an officer's key, a platform's keys, a real case's PIN, a Twilio signature), so the fuzzer
gets past authentication: every operation must give at least one answer other than
401/403 (or 404/405, which routing alone can give).
Positive cases also aim at a real alert and a real case, so their handlers are reached too.
(Some negative cases answer 401/403 by design: Schemathesis drops the credential header as a
"missing header" mutation, or the mutated form no longer matches its Twilio signature.)

The counts of cases per operation, with the statuses seen, are printed after the run.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis.generation import GenerationMode
from twilio.request_validator import RequestValidator

from haven.db import get_session
from haven.openapi import build_spec
from takedown.service import PlatformCredentials, add_platform
from tests.factories import bearer, draft_body, submit_case, video_hash

EXAMPLES = 30
MIN_CASES = 300
TWILIO_AUTH_TOKEN = "fuzz-twilio-token"
# Answers that do not show the handler ran: refused credentials, or no such route (a
# generated id the URL converter rejects is a 404 before authentication).
NOT_REACHED = {401, 403, 404, 405}


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"twilio_auth_token": TWILIO_AUTH_TOKEN}


def twilio_signature(app: Flask, case: Any) -> str:
    """X-Twilio-Signature as Twilio would compute it for this case's URL and form fields.

    Only string fields are signed: Twilio posts flat string forms, and other generated
    values (None, lists, objects) are encoded in ways the signature cannot predict.
    """
    url = app.extensions["haven.settings"].public_url.rstrip("/") + case.formatted_path
    form = case.body if isinstance(case.body, dict) else {}
    params = {k: v for k, v in form.items() if isinstance(v, str)}
    return str(RequestValidator(TWILIO_AUTH_TOKEN).compute_signature(url, params))


def test_every_api_operation_is_fuzzed_past_its_authentication_without_a_server_error(
    app: Flask,
    platform: PlatformCredentials,
    officers: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    client = app.test_client()
    created = submit_case(client, [video_hash()])
    alert = client.post("/api/v1/alerts", json=draft_body(), headers=bearer(officers["drafter"]))
    assert alert.status_code == 201, alert.json
    real_ids = {"alert_id": alert.json["id"], "case_number": created["case_number"]}  # type: ignore[index]
    scheme_headers: dict[str, dict[str, str]] = {
        "officer": bearer(officers["approver"]),
        "platform": bearer(platform.api_key),
        "stopnciiFunctionKey": {"x-functions-key": platform.stopncii_fetch_function_key},
        "stopnciiSubscriptionKey": {
            "Ocp-Apim-Subscription-Key": platform.stopncii_subscription_key
        },
        "casePin": {"X-Case-Pin": created["pin"]},
    }
    # The sandbox routes take the same schemes, but a sandbox platform's keys (a real key
    # there is a 403).
    with app.app_context():
        sandbox = add_platform(session=get_session(), name="Sandbox Platform", sandbox=True)
    sandbox_headers = {
        **scheme_headers,
        "platform": bearer(sandbox.api_key),
        "stopnciiFunctionKey": {"x-functions-key": sandbox.stopncii_fetch_function_key},
        "stopnciiSubscriptionKey": {"Ocp-Apim-Subscription-Key": sandbox.stopncii_subscription_key},
    }
    security = {
        (method.upper(), path): [scheme for requirement in op["security"] for scheme in requirement]
        for path, ops in build_spec(app)["paths"].items()
        for method, op in ops.items()
    }
    statuses: dict[str, list[int]] = defaultdict(list)
    failures: list[str] = []

    def checker(mode: GenerationMode) -> Callable[[Any], None]:
        def check(case: Any) -> None:
            send(case, mode)

        return check

    def send(case: Any, mode: GenerationMode) -> None:
        schemes = security[(case.method.upper(), case.path)]
        if mode is GenerationMode.POSITIVE and case.path_parameters:
            for name in set(case.path_parameters) & set(real_ids):
                case.path_parameters[name] = real_ids[name]
        headers: dict[str, str] = {}
        for scheme in schemes:
            if scheme == "twilioSignature":
                if mode is GenerationMode.POSITIVE and isinstance(case.body, dict):
                    case.body = {k: v for k, v in case.body.items() if isinstance(v, str)}
                headers["X-Twilio-Signature"] = twilio_signature(app, case)
            else:
                chosen = sandbox_headers if "/sandbox/" in case.path else scheme_headers
                headers.update(chosen[scheme])
        # Our credentials replace any the generator made up (bad credentials are the guard
        # test's business, tests/haven/test_app.py); header names are case-insensitive.
        ours = {name.lower() for name in headers}
        generated = {k: v for k, v in (case.headers or {}).items() if k.lower() not in ours}
        response = case.call(headers={**generated, **headers})
        statuses[f"{case.method.upper()} {case.path}"].append(response.status_code)
        if response.status_code >= 500:
            failures.append(f"{case.method} {case.formatted_path}: {response.status_code}")
        elif response.status_code >= 400:
            body = response.json()
            if not (isinstance(body, dict) and {"code", "message"} <= set(body.get("error", {}))):
                failures.append(f"{case.method} {case.formatted_path}: non-JSON error")

    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            run = settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )(given(operation.as_strategy(generation_mode=mode))(checker(mode)))
            run()

    with capsys.disabled():
        print(f"\nfuzz cases per operation ({app.extensions['haven.db'].engine.dialect.name}):")
        for name, seen in sorted(statuses.items()):
            codes = ", ".join(f"{code}×{seen.count(code)}" for code in sorted(set(seen)))
            print(f"  {len(seen):4d}  {name}  [{codes}]")
    assert failures == []
    assert len(operations) >= 7
    assert set(statuses) == {f"{op.method.upper()} {op.path}" for op in operations}
    never_reached = sorted(name for name, seen in statuses.items() if set(seen) <= NOT_REACHED)
    assert never_reached == [], "operations that only ever answered 401/403/404/405"
    total = sum(map(len, statuses.values()))
    assert total >= MIN_CASES, f"only {total} generated requests were sent"
    assert any(400 <= status < 500 for seen in statuses.values() for status in seen)
