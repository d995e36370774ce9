"""`make fuzz`: every documented operation with EXAMPLES positive and EXAMPLES negative
cases, then SCENARIOS stateful sequences following the document's links, on SQLite and
PostgreSQL; the counts per operation are printed at the end (see tests/fuzzing.py).
"""

from __future__ import annotations

import pytest
from flask import Flask

from takedown.service import PlatformCredentials
from tests.fuzzing import SETTINGS_OVERRIDES, Fuzzer

EXAMPLES = 300
SCENARIOS = 300
STEPS = 10


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return SETTINGS_OVERRIDES


def test_every_api_operation_survives_a_deep_fuzz_and_answers_as_documented(
    app: Flask,
    platform: PlatformCredentials,
    officers: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    fuzzer = Fuzzer(app, platform=platform, officers=officers)
    try:
        fuzzer.fuzz_operations(EXAMPLES)
        fuzzer.fuzz_stateful(SCENARIOS, steps=STEPS)
    finally:
        with capsys.disabled():
            print("\n" + fuzzer.report())
    assert sorted(fuzzer.failures) == []
    assert fuzzer.never_reached() == [], "operations that only ever answered 401/403/404/405"
    assert fuzzer.statuses["stateful"], "the stateful phase sent nothing"
