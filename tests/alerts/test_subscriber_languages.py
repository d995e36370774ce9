"""Per-language audience counts: every new subscriber and every change of a language takes a
commit-ordered number, and each count catches up by those numbers, so it counts every
language committed before it, exactly, whatever the order of the subscribers' ids."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from alembic import command
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import Session

from alerts import store
from alerts.models import Subscriber
from alerts.previews import SubscriberLanguages, get_languages
from alerts.subscribers import import_subscribers
from alerts.subscriptions import service
from haven.db import Counter, get_session, take_numbers, utcnow, write
from haven.migrate import alembic_config, upgrade
from haven.settings import Settings
from tests.alerts.test_alerts_api import LOOP
from tests.alerts.test_subscriptions_sms import HAVEN_NUMBER, PUBLIC_URL, reply
from tests.alerts.test_subscriptions_sms import text as text_message
from tests.alerts.test_subscriptions_web import ask_for_code, enter_code, last_code
from tests.factories import COOK_COUNTY, bearer, create_subscribers
from tests.fakes.twilio_server import FakeTwilio

AREAS = "/api/v1/areas/audience"
PHONE = "+13125550101"


@pytest.fixture
def settings_overrides(fake_twilio: FakeTwilio) -> dict[str, object]:
    return {"public_url": PUBLIC_URL, **fake_twilio.settings(from_number=HAVEN_NUMBER)}


@pytest.fixture
def people(app: Flask) -> None:
    create_subscribers(app, [(PHONE, *LOOP), ("+13125550102", *LOOP)])
    create_subscribers(app, [("+13125550103", *LOOP)], language="es")


def languages_in_cook(client: FlaskClient, officer: str) -> dict[str, int]:
    response = client.post(AREAS, json={"areas": [{"same": COOK_COUNTY}]}, headers=bearer(officer))
    assert response.status_code == 200, response.json
    counted: dict[str, int] = response.json["languages"]  # type: ignore[index]
    return counted


def add_at_the_loop(session: Session, subscriber_id: int, phone: str, language: str) -> None:
    """A subscriber with this id in Cook County, numbered as every new subscriber is: as a
    writer does that was given its id before another's but commits after it."""
    (seq,) = take_numbers(session, store.LANGUAGE_CHANGES)
    session.add(
        Subscriber(
            id=subscriber_id,
            phone=phone,
            language=language,
            language_seq=seq,
            status="active",
            is_tester=False,
            created_at=utcnow(),
        )
    )
    session.flush()
    store.add_location_rows(session=session, rows=[(subscriber_id, *LOOP, None)])


def test_a_language_changed_by_the_lang_keyword_is_counted_on_the_next_count(
    app: Flask, client: FlaskClient, officer: str, people: None
) -> None:
    assert languages_in_cook(client, officer) == {"en": 2, "es": 1}
    reply(text_message(client, app, "LANG ko", phone=PHONE))
    assert languages_in_cook(client, officer) == {"en": 1, "es": 1, "ko": 1}
    reply(text_message(client, app, "LANG en", phone=PHONE))  # back to the default
    assert languages_in_cook(client, officer) == {"en": 2, "es": 1}


def test_a_language_changed_by_the_web_form_is_counted_on_the_next_count(
    app: Flask, client: FlaskClient, officer: str, people: None, fake_twilio: FakeTwilio
) -> None:
    assert languages_in_cook(client, officer) == {"en": 2, "es": 1}
    page = ask_for_code(client, language="es", zips="60601")
    assert page.status_code == 200, page.get_data(as_text=True)
    assert languages_in_cook(client, officer) == {"en": 2, "es": 1}  # not confirmed yet
    assert enter_code(client, page, last_code(fake_twilio)).status_code == 200
    assert languages_in_cook(client, officer) == {"en": 1, "es": 2}


def test_a_subscriber_with_a_lower_id_committed_after_a_count_is_counted_in_its_language(
    app: Flask, client: FlaskClient, officer: str, people: None
) -> None:
    database = app.extensions["haven.db"]
    assert languages_in_cook(client, officer) == {"en": 2, "es": 1}
    with database.sessions() as first, database.sessions() as second:
        with write(second):
            add_at_the_loop(second, 1001, "+13125550111", "zh")
        assert languages_in_cook(client, officer) == {"en": 2, "es": 1, "zh": 1}
        with write(first):
            add_at_the_loop(first, 1000, "+13125550110", "ko")
    assert languages_in_cook(client, officer) == {"en": 2, "es": 1, "zh": 1, "ko": 1}


def test_an_import_numbers_each_new_subscriber_above_every_earlier_number(
    app: Flask, people: None
) -> None:
    with app.app_context():
        session = get_session()
        before = dict(session.execute(select(Subscriber.phone, Subscriber.language_seq)).all())
        languages = get_languages(app)
        languages.count(session, np.arange(1, 4))  # read once, then caught up
        with write(session):  # the importer's statement, several rows at once
            added = store.add_new_subscribers(
                session=session,
                rows=[(PHONE, "zh"), ("+13125550104", "zh"), ("+13125550105", "vi")],
                created_at=utcnow(),
            )
        after = dict(session.execute(select(Subscriber.phone, Subscriber.language_seq)).all())
        counter = session.scalar(
            select(Counter.value).where(Counter.name == store.LANGUAGE_CHANGES)
        )
        ids = np.asarray(session.scalars(select(Subscriber.id)).all())
        counted = languages.count(session, ids)
    assert sorted(added) == ["+13125550104", "+13125550105"]
    assert after[PHONE] == before[PHONE]  # an existing subscriber keeps its number
    new = [after["+13125550104"], after["+13125550105"]]
    assert len(set(after.values())) == len(after)
    assert min(new) > max(before.values())
    assert counter is not None
    assert counter >= max(new)
    assert counted == {"en": 2, "es": 1, "zh": 1, "vi": 1}


# Counts always equal a plain SQL count, whatever happens in between.

POOL = [f"+131255501{n:02d}" for n in range(20)]
CODES = ["en", "es", "ko", "zh", "vi"]
phones = st.sampled_from(POOL)
codes = st.sampled_from(CODES)
steps = st.lists(
    st.one_of(
        st.tuples(st.just("import"), st.lists(st.tuples(phones, codes), min_size=1, max_size=6)),
        st.tuples(st.just("lang"), st.tuples(phones, codes)),
        # Which of the subscribers to count, by position in id order.
        st.tuples(st.just("count"), st.sets(st.integers(0, len(POOL) - 1))),
    ),
    max_size=10,
)


def sql_count(session: Session, ids: list[int]) -> dict[str, int]:
    rows = session.execute(
        select(Subscriber.language, func.count())
        .where(Subscriber.id.in_(ids))
        .group_by(Subscriber.language)
    )
    return {language: n for language, n in rows}


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=steps)
def test_counts_always_equal_a_plain_sql_count_by_language_over_the_same_ids(
    app: Flask, steps: list[tuple[str, Any]]
) -> None:
    with app.app_context():
        session = get_session()
        languages = SubscriberLanguages()  # read whole at its first count, wherever it falls
        for kind, value in [*steps, ("count", set(range(len(POOL))))]:
            if kind == "import":
                lines = ["phone,language,lat,lon"] + [
                    f"{p},{c},{LOOP[0]},{LOOP[1]}" for p, c in value
                ]
                import_subscribers(session=session, source=io.StringIO("\n".join(lines)))
            elif kind == "lang":
                service.set_language(session=session, phone=value[0], language=value[1])
            else:
                existing = sorted(session.scalars(select(Subscriber.id)))
                ids = [existing[n] for n in sorted(value) if n < len(existing)]
                assert languages.count(session, np.asarray(ids, np.int64)) == sql_count(
                    session, ids
                )
            session.commit()


# The migration


def test_0016_numbers_existing_subscribers_by_id_and_starts_the_counter_at_the_highest(
    empty_database_url: str,
) -> None:
    engine = create_engine(Settings(database_url=empty_database_url).database_url)
    try:
        upgrade(engine, "0015")
        with engine.begin() as connection:
            for subscriber_id, language in [(3, "es"), (7, "en")]:
                connection.execute(
                    text(
                        "INSERT INTO subscriber (id, phone, language, status, is_tester,"
                        " created_at) VALUES (:id, :phone, :language, 'active', false,"
                        " '2026-12-01 12:00:00+00')"
                    ),
                    {
                        "id": subscriber_id,
                        "phone": f"+1312555010{subscriber_id}",
                        "language": language,
                    },
                )
        upgrade(engine, "0016")
        with engine.connect() as connection:
            numbered = connection.execute(
                text("SELECT id, language_seq FROM subscriber ORDER BY id")
            ).all()
            counter = connection.execute(
                text("SELECT value FROM haven_counter WHERE name = 'subscriber_languages'")
            ).scalar_one()
        assert [tuple(row) for row in numbered] == [(3, 3), (7, 7)]
        assert counter == 7
        command.downgrade(alembic_config(engine), "0015")
        with engine.connect() as connection:
            columns = connection.execute(text("SELECT * FROM subscriber")).keys()
            counters = connection.execute(text("SELECT name FROM haven_counter")).scalars().all()
        assert "language_seq" not in columns
        assert counters == ["locations"]
    finally:
        engine.dispose()
