"""Bulk import of subscribers: bad rows by line, numbers repeated within the file and
against the database, and the same result whether the file is checked here or in workers."""

from __future__ import annotations

import datetime
import io

import pytest
from flask import Flask
from sqlalchemy import func, select

from alerts import store
from alerts.models import Subscriber, SubscriberLocation
from alerts.subscribers import ImportReport, import_subscribers
from haven.db import Counter, get_session, write
from tests.alerts.test_audience import reached

# Small pieces, so that a few dozen rows span several pieces and go through worker processes.
PARALLEL = {"workers": 2, "chunk_chars": 120}
IN_PROCESS = {"workers": 0, "chunk_chars": 1_000_000}


def run_import(app: Flask, text: str, **options: int) -> ImportReport:
    with app.app_context():
        return import_subscribers(session=get_session(), source=io.StringIO(text), **options)


def stored(app: Flask) -> dict[str, tuple[str, list[tuple[float, float, str | None]]]]:
    """Every subscriber's language and active locations (in the order stored), by phone."""
    with app.app_context():
        session = get_session()
        people = {s.id: s for s in session.scalars(select(Subscriber))}
        result: dict[str, tuple[str, list[tuple[float, float, str | None]]]] = {
            str(s.phone): (s.language, []) for s in people.values()
        }
        for location in session.scalars(
            select(SubscriberLocation)
            .where(SubscriberLocation.active)
            .order_by(SubscriberLocation.seq)
        ):
            phone = str(people[location.subscriber_id].phone)
            result[phone][1].append((location.lat, location.lon, location.zip))
        return result


def numbered_rows(count: int) -> list[str]:
    return [f"+1312555{n:04d},en,,41.{n:04d},-87.6" for n in range(count)]


# Line 2 is the first row. Lines 6-7 hold one record with a quoted line break (reported as
# line 7, where the csv module's record ends), a blank line (9) is no row, and bad rows sit
# in the middle of what become separate pieces.
MIXED = (
    "phone,language,zip,lat,lon\n"
    "+13125550101,en,60601,,\n"  # 2
    "+13125550102,es,,41.88,-87.63\n"  # 3
    "not a phone,en,60601,,\n"  # 4: bad phone
    "+13125550104,en,00000,,\n"  # 5: unknown ZIP
    '+13125550105,"e\nn",60601,,\n'  # 6-7: a language with a line break in it
    "+13125550106,EN , 60601 ,,\n"  # 8: spaces and capitals are fine
    "\n"  # 9: blank
    "+13125550107,en,,95,-87.6\n"  # 10: latitude out of range
    '"+1 (312) 555-0108",fr,,"41.9","-87.7"\n'  # 11
    "+13125550109,en,,41.9\n"  # 12: a short row: no lon
    "+13125550110,en,,41.95,-87.65"  # 13: no line end at the end of the file
)
MIXED_ERRORS = [
    (4, "'not a phone' is not a phone number"),
    (5, "ZIP code 00000 is not a known US ZIP code"),
    (7, "language 'e\\nn' is not one of Haven's languages"),  # where its record ends
    (10, "the location: latitude 95.0 is outside -90..90"),
    (12, "lon: '' is not a decimal number"),
]


@pytest.mark.parametrize("options", [IN_PROCESS, PARALLEL], ids=["in-process", "workers"])
def test_bad_rows_are_reported_by_their_line_and_the_good_ones_stored(
    app: Flask, options: dict[str, int]
) -> None:
    report = run_import(app, MIXED, **options)

    assert report.errors == MIXED_ERRORS
    assert (report.rows, report.subscribers, report.locations) == (10, 5, 5)
    assert stored(app) == {
        "+13125550101": ("en", [(41.8858, -87.6181, "60601")]),
        "+13125550102": ("es", [(41.88, -87.63, None)]),
        "+13125550106": ("en", [(41.8858, -87.6181, "60601")]),
        "+13125550108": ("fr", [(41.9, -87.7, None)]),
        "+13125550110": ("en", [(41.95, -87.65, None)]),
    }


def test_the_pieces_checked_by_workers_come_back_in_file_order(app: Flask) -> None:
    rows = numbered_rows(60)
    rows[29] = "+13125559999,xx,,41.5,-87.6"  # line 31, in the middle of a piece
    text = "phone,language,zip,lat,lon\n" + "\n".join(rows) + "\n"

    report = run_import(app, text, workers=2, chunk_chars=300)

    assert report.errors == [(31, "language 'xx' is not one of Haven's languages")]
    assert (report.rows, report.subscribers, report.locations) == (60, 59, 59)
    with app.app_context():
        session = get_session()
        phones = session.scalars(select(Subscriber.phone).order_by(Subscriber.id)).all()
        seqs = session.scalars(
            select(SubscriberLocation.seq).order_by(SubscriberLocation.subscriber_id)
        ).all()
    assert phones == [f"+1312555{n:04d}" for n in range(60) if n != 29]
    assert seqs == sorted(seqs)


@pytest.mark.parametrize("options", [IN_PROCESS, PARALLEL], ids=["in-process", "workers"])
def test_a_number_on_many_rows_gets_five_locations_and_the_language_of_its_first(
    app: Flask, options: dict[str, int]
) -> None:
    lines = ["phone,language,zip,lat,lon"]
    for n in range(7):  # lines 2, 4, ... 14: one number, between others, across pieces
        lines.append(f"(312) 555-0100,{['es', 'en', 'fr'][n % 3]},,41.{n},-87.{n}")
        lines.append(f"+1312555020{n},en,60601,,")
    report = run_import(app, "\n".join(lines) + "\n", **options)

    assert report.errors == [
        (12, "+13125550100 already has 5 locations"),
        (14, "+13125550100 already has 5 locations"),
    ]
    assert (report.rows, report.subscribers, report.locations) == (14, 8, 12)
    language, places = stored(app)["+13125550100"]
    assert language == "es"
    assert places == [(float(f"41.{n}"), float(f"-87.{n}"), None) for n in range(5)]


def test_existing_subscribers_keep_what_they_have_and_gain_places_up_to_five(
    app: Flask,
) -> None:
    header = "phone,language,zip,lat,lon\n"
    run_import(app, header + "".join(f"+13125550100,es,,41.{n},-87.6\n" for n in range(4)))
    run_import(app, header + "+13125550101,fr,60601,,\n")
    with app.app_context(), write(get_session()) as session:
        tester = store.get_subscriber_by_phone(session=session, phone="+13125550101")
        assert tester is not None
        tester.is_tester = True
    before = stored(app)

    report = run_import(
        app,
        header
        + "+13125550100,en,,42.0,-87.6\n"  # line 2: their fifth place
        + "+13125550100,en,,42.1,-87.6\n"  # line 3: one too many
        + "+13125550101,en,60601,,\n"  # line 4: the same place again is a second one
        + "+13125550102,en,60601,,\n",  # line 5: someone new
        **PARALLEL,
    )

    assert report.errors == [(3, "+13125550100 already has 5 locations")]
    assert (report.rows, report.subscribers, report.locations) == (4, 1, 3)
    after = stored(app)
    assert after["+13125550100"] == ("es", [*before["+13125550100"][1], (42.0, -87.6, None)])
    assert after["+13125550101"] == ("fr", before["+13125550101"][1] * 2)
    assert after["+13125550102"][0] == "en"
    with app.app_context():
        tester = store.get_subscriber_by_phone(session=get_session(), phone="+13125550101")
        assert tester is not None
        assert (tester.is_tester, tester.status) == (True, "active")


def test_adding_new_subscribers_leaves_a_number_already_taken_as_it_is(app: Flask) -> None:
    # On PostgreSQL this is the staging table and its INSERT ... ON CONFLICT DO NOTHING.
    created = datetime.datetime(2026, 11, 22, 13, 37, 1, 250_000, tzinfo=datetime.UTC)
    run_import(app, "phone,language,lat,lon\n+13125550100,es,41.9,-87.6\n")
    with app.app_context(), write(get_session()) as session:
        added = store.add_new_subscribers(
            session=session,
            rows=[("+13125550100", "fr"), ("+13125550101", "vi"), ("+13125550102", "en")],
            created_at=created,
        )
        assert sorted(added) == ["+13125550101", "+13125550102"]
    with app.app_context():
        session = get_session()
        people = {s.phone: s for s in session.scalars(select(Subscriber))}
    assert {phone: s.language for phone, s in people.items()} == {
        "+13125550100": "es",
        "+13125550101": "vi",
        "+13125550102": "en",
    }
    new = people["+13125550101"]
    assert (new.id, new.status, new.is_tester) == (added["+13125550101"], "active", False)
    assert new.created_at == created  # stored as the ORM stores it, read back aware


def test_imported_locations_are_numbered_for_the_audience_and_reach_the_live_index(
    app: Flask,
) -> None:
    assert reached(app) == []  # the index is loaded, empty
    header = "phone,language,zip,lat,lon\n"
    inside = [f"+1312555{n:04d},en,,41.88,-87.63" for n in range(30)]  # Chicago
    outside = [f"+1217555{n:04d},en,,39.80,-89.65" for n in range(30)]  # Springfield
    rows = [row for pair in zip(inside, outside, strict=True) for row in pair]

    report = run_import(app, header + "\n".join(rows), **PARALLEL)

    assert report.errors == []
    with app.app_context():
        session = get_session()
        seqs = session.scalars(select(SubscriberLocation.seq)).all()
        counter = session.scalar(select(Counter.value).where(Counter.name == store.LOCATIONS))
        chicago = session.scalars(
            select(Subscriber.id).where(Subscriber.phone.like("+1312%"))
        ).all()
        assert session.scalar(select(func.count()).select_from(Subscriber)) == 60
    assert sorted(seqs) == list(range(1, 61))
    assert counter == 60
    assert reached(app) == sorted(chicago)


def test_a_file_without_the_needed_columns_stores_nothing(app: Flask) -> None:
    with pytest.raises(ValueError, match="needs a phone column"):
        run_import(app, "phone,language\n+13125550100,en\n")
    assert stored(app) == {}
    assert run_import(app, "phone,zip\n") == ImportReport()
