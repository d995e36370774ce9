"""The access log never holds a secret from a path: enrolment links and subscription confirm
and stop links are logged by their route pattern, whatever the answer."""

from __future__ import annotations

import logging

import pytest
from flask import Flask

from haven.logs import SECRET_ARGUMENTS
from tests.console.test_enrol import enrol_with_app, new_officer

# Path arguments that are not secrets: file names, language codes, alert ids, county and ZIP
# codes, and case numbers (takedown routes are anonymous, so logged by pattern anyway).
PUBLIC_ARGUMENTS = frozenset(
    {"filename", "code", "case_number", "alert_id", "name", "abbr", "zip_code"}
)


def test_every_path_argument_is_known_to_be_public_or_secret(app: Flask) -> None:
    for rule in app.url_map.iter_rules():
        unknown = rule.arguments - PUBLIC_ARGUMENTS - SECRET_ARGUMENTS
        assert not unknown, f"{rule.rule}: is {sorted(unknown)} a secret? see haven/logs.py"


def test_enrolment_links_never_reach_the_access_log(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    client = app.test_client()
    spent = new_officer(app, "Spent")
    enrol_with_app(client, spent)
    valid = new_officer(app, "Valid")
    unknown = "hve_" + "x" * 40
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="haven.access"):
        assert client.get(f"/console/enrol/{valid}").status_code == 200
        assert client.get(f"/console/enrol/{spent}").status_code == 404
        assert client.get(f"/console/enrol/{unknown}").status_code == 404
        assert client.post(f"/console/enrol/{valid}", data={}).status_code == 403
    lines = [r.getMessage() for r in caplog.records if r.name == "haven.access"]
    assert len(lines) == 4
    for line in lines:
        assert "/console/enrol/<token>" in line
        for token in (valid, spent, unknown):
            assert token not in line


@pytest.mark.parametrize("kind", ["confirm", "stop"])
def test_subscription_links_never_reach_the_access_log(
    app: Flask, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    client = app.test_client()
    token = "secret" + "y" * 40
    with caplog.at_level(logging.INFO, logger="haven.access"):
        client.get(f"/alerts/channels/{kind}/{token}")
        client.post(f"/alerts/channels/{kind}/{token}")
    lines = [r.getMessage() for r in caplog.records if r.name == "haven.access"]
    assert len(lines) == 2
    for line in lines:
        assert f"/alerts/channels/{kind}/<token>" in line
        assert token not in line
