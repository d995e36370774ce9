"""Every documented API route, fuzzed from the OpenAPI document: 4xx for bad input, never 5xx,
and every answer as the document declares it.

Schemathesis generates valid and invalid requests (wrong types, malformed bodies, unknown
fields, bad cursors and tokens) for each operation: EXAMPLES per operation in each of its two
generation modes, then a few stateful sequences that follow the document's links. Each
request carries the credentials its operation declares (tests/fuzzing.py), so the fuzzer gets
past authentication: every operation must give at least one answer other than 401/403 (or
404/405, which routing alone can give). (Some negative cases answer 401/403 by design:
Schemathesis drops the credential header as a "missing header" mutation, or the mutated form
no longer matches its Twilio signature.)

This is the small, always-run fuzz; `make fuzz` runs the same with many more examples.
The counts of cases per operation, with the statuses seen, are printed after the run.
"""

from __future__ import annotations

import pytest
from flask import Flask

from takedown.service import PlatformCredentials
from tests.fuzzing import SETTINGS_OVERRIDES, Fuzzer

EXAMPLES = 30
SCENARIOS = 10
MIN_CASES = 300


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return SETTINGS_OVERRIDES


def test_every_api_operation_is_fuzzed_past_its_authentication_and_answers_as_documented(
    app: Flask,
    platform: PlatformCredentials,
    officers: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    fuzzer = Fuzzer(app, platform=platform, officers=officers)
    fuzzer.fuzz_operations(EXAMPLES)
    fuzzer.fuzz_stateful(SCENARIOS, steps=5)

    with capsys.disabled():
        print("\n" + fuzzer.report())
    assert sorted(fuzzer.failures) == []
    assert len(fuzzer.operations) >= 7
    assert set(fuzzer.statuses["positive"]) == fuzzer.operation_names()
    assert fuzzer.never_reached() == [], "operations that only ever answered 401/403/404/405"
    total = sum(len(seen) for phase in fuzzer.statuses.values() for seen in phase.values())
    assert total >= MIN_CASES, f"only {total} generated requests were sent"
    negative = fuzzer.statuses["negative"].values()
    assert any(400 <= status < 500 for seen in negative for status in seen)
    assert fuzzer.statuses["stateful"], "the stateful phase sent nothing"
