"""An agency's time zone, given or found at its jurisdiction, and times as the public reads
them: local, with the zone's abbreviation, and how long ago, in the reader's language."""

from __future__ import annotations

import datetime
import json

import pytest
from babel import Locale
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from alerts.models import Agency
from alerts.timezones import local_time, time_ago
from haven.cli import main
from haven.db import get_session
from tests.alerts.test_alerts_api import send
from tests.factories import create_agency, create_officer

MOMENT = datetime.datetime(2026, 11, 22, 21, 40, tzinfo=datetime.UTC)
# CLDR's English puts a narrow no-break space (U+202F) between the time and AM or PM.


@pytest.fixture
def haven(app: Flask) -> CliRunner:
    return CliRunner(env={"HAVEN_DATABASE_URL": str(app.extensions["haven.db"].url)})


def stored_zone(app: Flask, name: str) -> str | None:
    with app.app_context():
        agency = get_session().scalar(select(Agency).where(Agency.name == name))
        assert agency is not None
        return agency.timezone


def test_an_agency_keeps_the_time_zone_it_is_given(haven: CliRunner, app: Flask) -> None:
    result = haven.invoke(
        main,
        [
            *("agency", "add", "Cook Sheriff", "--jurisdiction", "017031"),
            *("--timezone", "America/Indiana/Indianapolis", "--json"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["timezone"] == "America/Indiana/Indianapolis"
    assert stored_zone(app, "Cook Sheriff") == "America/Indiana/Indianapolis"


@pytest.mark.parametrize(
    ("jurisdiction", "zone"),
    [
        ("017031", "America/Chicago"),  # Cook County, Illinois
        ("006037", "America/Los_Angeles"),  # Los Angeles County
        ("015003", "Pacific/Honolulu"),  # Honolulu
        ("072127", "America/Puerto_Rico"),  # San Juan
    ],
)
def test_without_a_time_zone_an_agency_gets_the_zone_of_its_jurisdiction(
    haven: CliRunner, app: Flask, jurisdiction: str, zone: str
) -> None:
    result = haven.invoke(main, ["agency", "add", "PD", "--jurisdiction", jurisdiction])
    assert result.exit_code == 0, result.output
    assert f"timezone: {zone}" in result.output
    assert stored_zone(app, "PD") == zone


def test_a_time_zone_that_is_not_one_is_refused_clearly_and_nothing_is_stored(
    haven: CliRunner, app: Flask
) -> None:
    result = haven.invoke(
        main, ["agency", "add", "PD", "--jurisdiction", "017031", "--timezone", "America/Chicgo"]
    )
    assert result.exit_code == 1
    assert "'America/Chicgo' is not an IANA time zone such as America/Chicago" in result.output
    assert "Did you mean America/Chicago" in result.output
    assert "Traceback" not in result.output
    with app.app_context():
        assert get_session().scalar(select(Agency).where(Agency.name == "PD")) is None


@pytest.mark.parametrize("name", ["localtime", "CST", "Chicago", "../../etc/passwd", ""])
def test_names_that_are_no_iana_zone_are_refused(haven: CliRunner, name: str) -> None:
    result = haven.invoke(
        main, ["agency", "add", "PD", "--jurisdiction", "017031", "--timezone", name]
    )
    assert result.exit_code == 1
    assert "is not an IANA time zone" in result.output


def test_an_agency_added_without_a_zone_shows_its_jurisdictions_zone_on_its_pages(
    app: Flask, client: FlaskClient
) -> None:
    create_agency(app)  # Chicago PD: all of Illinois
    with app.app_context():
        session = get_session()
        agency = session.scalar(select(Agency))
        assert agency is not None
        agency.timezone = None  # as an agency registered before Haven kept zones
        session.commit()
    officers = {
        "drafter": create_officer(app, name="Drafter"),
        "approver": create_officer(app, name="Approver", approver=True),
    }
    alert = send(client, officers)
    page = client.get(f"/alerts/{alert['id']}").get_data(as_text=True)
    assert "Nov 22, 12:30\u202fPM CST" in page  # last seen: 2026-11-22T12:30:00-06:00


def test_an_agencys_own_zone_is_the_one_its_pages_show(app: Flask, client: FlaskClient) -> None:
    create_agency(app)
    with app.app_context():
        session = get_session()
        agency = session.scalar(select(Agency))
        assert agency is not None
        agency.timezone = "America/New_York"
        session.commit()
    officers = {
        "drafter": create_officer(app, name="Drafter"),
        "approver": create_officer(app, name="Approver", approver=True),
    }
    alert = send(client, officers)
    page = client.get(f"/alerts/{alert['id']}").get_data(as_text=True)
    assert "Nov 22, 1:30\u202fPM EST" in page


@pytest.mark.parametrize(
    ("locale", "zone", "shown"),
    [
        ("en", "America/Chicago", "Nov 22, 3:40\u202fPM CST"),
        ("en", "America/New_York", "Nov 22, 4:40\u202fPM EST"),
        ("en", "Pacific/Guam", "Nov 23, 7:40\u202fAM ChST"),
        ("es", "America/Chicago", "22 nov, 15:40 CST"),
        ("zh", "America/Chicago", "11月22日 CST 15:40"),  # the zone first, as CLDR has it
        ("vi", "America/Chicago", "15:40 CST 22 thg 11"),  # the time first
        ("en", "America/Sao_Paulo", "Nov 22, 6:40\u202fPM GMT-03:00"),  # no abbreviation: offset
    ],
)
def test_a_time_is_written_in_the_readers_language_with_its_zone(
    locale: str, zone: str, shown: str
) -> None:
    assert local_time(MOMENT, zone=zone, locale=Locale.parse(locale)) == shown


def test_summer_time_has_its_own_abbreviation() -> None:
    july = datetime.datetime(2026, 7, 4, 17, 0, tzinfo=datetime.UTC)
    assert local_time(july, zone="America/Chicago", locale=Locale.parse("en")) == (
        "Jul 4, 12:00\u202fPM CDT"
    )


@pytest.mark.parametrize(
    ("locale", "delta", "said"),
    [
        ("en", datetime.timedelta(hours=-2), "2 hours ago"),
        ("en", datetime.timedelta(seconds=-5), "1 minute ago"),
        ("en", datetime.timedelta(hours=5, minutes=50), "in 6 hours"),
        ("es", datetime.timedelta(hours=-2), "hace 2 horas"),
        ("ar", datetime.timedelta(hours=-2), "قبل ساعتين"),
        ("zh", datetime.timedelta(days=-3), "3天前"),
    ],
)
def test_how_long_ago_is_said_in_the_readers_language(
    locale: str, delta: datetime.timedelta, said: str
) -> None:
    assert time_ago(MOMENT + delta, now=MOMENT, locale=Locale.parse(locale)) == said


def test_a_language_without_words_for_how_long_ago_gets_none_rather_than_symbols() -> None:
    ago = MOMENT - datetime.timedelta(hours=2)
    assert time_ago(ago, now=MOMENT, locale=Locale.parse("ckb")) is None
