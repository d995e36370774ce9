"""What a draft would do, before anything is stored: the audience of its areas (in all, per
area and per language) and the SMS each language's subscribers would receive.

The console calls these while an officer types; they run the same checks as creating an
alert (alerts/service.py) and count with the same live audience index. Counting languages in
the database costs a second for a county's audience (a join over 100,000s of ids), so each
process keeps every subscriber's language in memory (`SubscriberLanguages`). Every new
subscriber and every change of a language takes a number in commit order
(`Subscriber.language_seq`), so each count first reads only the rows numbered above the last
number seen: a sign-up, a changed language and a subscriber whose id committed out of order
are all counted at once, exactly. The whole table is read once, in the background from the
first readiness probe at start-up (`/readyz` says LOADING until then).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from flask import Flask
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from alerts import service, store
from alerts.audience import LiveAudience
from alerts.models import Officer
from alerts.schemas import AlertIn, AreaIn
from alerts.sms import render_sms, segments
from geo.index import Audience
from haven.db import Database
from haven.errors import InvalidInput
from haven.health import Readiness, add_readiness_check
from haven.i18n import DEFAULT_LANGUAGE

log = logging.getLogger(__name__)
EXTENSION = "haven.subscriber_languages"
MAX_LANGUAGES = 256  # one byte a subscriber; a language past these counts as the default


@dataclasses.dataclass(frozen=True)
class _Table:
    """Languages by code (0 is the default), each subscriber's code by id (an id past the end
    speaks the default), and the last language number read. Never changed once made: a
    count may be reading it."""

    names: tuple[str, ...]
    codes: np.ndarray[Any, np.dtype[np.uint8]]
    seq: int

    @staticmethod
    def built(ids: dict[str, np.ndarray[Any, Any]], seq: int) -> _Table:
        """A table from each language's subscriber ids (the default's left out)."""
        names = (DEFAULT_LANGUAGE, *sorted(ids)[: MAX_LANGUAGES - 1])
        size = max((int(part.max()) + 1 for part in ids.values() if len(part)), default=0)
        codes = np.zeros(size, np.uint8)
        for code, name in enumerate(names[1:], start=1):
            codes[ids[name]] = code
        return _Table(names, codes, seq)

    def merged(self, rows: Sequence[tuple[int, str]], seq: int) -> _Table:
        """A new table: this one with the languages of `rows`, read up to number `seq`."""
        if not rows:
            return dataclasses.replace(self, seq=seq)
        names = list(self.names)
        index = {name: code for code, name in enumerate(names)}
        for _subscriber, language in rows:
            if language not in index and len(names) < MAX_LANGUAGES:
                index[language] = len(names)
                names.append(language)
        ids = np.fromiter((row[0] for row in rows), np.int64, len(rows))
        new = np.fromiter((index.get(row[1], 0) for row in rows), np.uint8, len(rows))
        # Copied, never changed in place: a count may be reading the current array.
        reach = int(ids[new > 0].max()) + 1 if new.any() else 0
        codes = np.zeros(max(len(self.codes), reach), np.uint8)
        codes[: len(self.codes)] = self.codes
        inside = ids < len(codes)  # a default past the end needs no entry
        codes[ids[inside]] = new[inside]
        return _Table(tuple(names), codes, seq)


class SubscriberLanguages:
    """Every subscriber's language as a one-byte code in an array indexed by subscriber id,
    so that an audience's languages are counted with one `bincount`.

    The first use reads the whole table once (the highest number first, then each
    language's ids up to it). Each count then reads the rows numbered above the last number
    seen (an index range), so it always counts the languages committed before it. A count
    before the first read ends waits for it. Readiness (`check`): LOADING until read (the
    first check starts reading in the background, with `sessions`), READY once caught up,
    BEHIND when the last catch-up failed.
    """

    def __init__(self, *, sessions: Callable[[], Session] | None = None) -> None:
        self.sessions = sessions
        self._table: _Table | None = None
        self._lock = threading.Lock()
        self._state = Readiness.LOADING
        self._loader: threading.Thread | None = None

    def count(self, session: Session, subscriber_ids: np.ndarray[Any, Any]) -> dict[str, int]:
        """How many of these subscribers speak each language (languages of none left out)."""
        table = self.catch_up(session)
        ids = np.asarray(subscriber_ids)
        known = ids[ids < len(table.codes)]
        counts = np.bincount(table.codes[known], minlength=len(table.names))
        counts[0] += len(ids) - len(known)
        return {table.names[code]: int(n) for code, n in enumerate(counts) if n}

    def catch_up(self, session: Session) -> _Table:
        """The table with every language committed so far (read whole the first time)."""
        with self._lock:
            try:
                self._table = _caught_up(session, self._table)
            except Exception:
                self._state = Readiness.BEHIND if self._table else Readiness.LOADING
                raise
            self._state = Readiness.READY
            return self._table

    def check(self, session: Session) -> Readiness:
        """Catch up now, unless another thread is reading, and say whether ready. Never
        waits for the first read: it starts in the background, LOADING meanwhile."""
        if self._table is None:
            self._start_loading()
            return Readiness.LOADING  # not what the load may have become meanwhile
        if not self._lock.acquire(blocking=False):
            return self._state  # another thread is catching up
        try:
            self._table = _caught_up(session, self._table)
            self._state = Readiness.READY
        except SQLAlchemyError:
            log.warning("the subscribers' languages cannot catch up", exc_info=True)
            self._state = Readiness.BEHIND
        finally:
            self._lock.release()
        return self._state

    def _start_loading(self) -> None:
        if self.sessions is None or (self._loader is not None and self._loader.is_alive()):
            return
        self._loader = threading.Thread(
            target=self._load_now, name="haven-subscriber-languages", daemon=True
        )
        self._loader.start()

    def _load_now(self) -> None:
        assert self.sessions is not None
        try:
            with self.sessions() as session:
                self.catch_up(session)
        except Exception:
            log.exception("could not read the subscribers' languages; tried again when asked")


def _caught_up(session: Session, table: _Table | None) -> _Table:
    """`table` (or, if None, the whole table read anew) with the languages numbered above
    its last number. The highest number is read first: a row numbered below it is already
    committed (numbers are taken in commit order), and one changed meanwhile gets a higher
    number, read next time."""
    last = store.get_last_language_seq(session=session)
    if table is None:
        ids = store.fetch_language_ids(session=session, up_to_seq=last, default=DEFAULT_LANGUAGE)
        return _Table.built(ids, last)
    if last <= table.seq:
        return table
    rows = store.fetch_language_changes(
        session=session,
        after_seq=table.seq,
        up_to_seq=last,
        default=DEFAULT_LANGUAGE,
        below_id=len(table.codes),
    )
    return table.merged(rows, last)


def init_app(app: Flask) -> None:
    """Give the app its subscriber languages, read from the first readiness probe on."""
    database: Database = app.extensions["haven.db"]
    languages = SubscriberLanguages(sessions=database.sessions)
    app.extensions[EXTENSION] = languages
    add_readiness_check(app, name="languages", check=languages.check)


def get_languages(app: Flask) -> SubscriberLanguages:
    """The app's subscriber languages."""
    languages: SubscriberLanguages = app.extensions[EXTENSION]
    return languages


def _count(
    session: Session, geometries: Sequence[Any], status: str, audience: LiveAudience
) -> Audience:
    """Everyone the geometries reach; Test and Exercise alerts reach testers only (as
    `service.count_audience` counts a stored alert)."""
    only = None
    if status != "Actual":
        only = np.asarray(store.fetch_tester_ids(session=session), dtype=np.int32)
    return audience.audience(session, geometries, only=only)


def count_areas(
    *,
    session: Session,
    officer: Officer,
    areas: Sequence[AreaIn],
    status: str,
    rules: service.Rules,
    audience: LiveAudience,
    languages: SubscriberLanguages,
) -> dict[str, Any]:
    """The audience of unsaved areas: subscribers in all (each once), per area (in order) and
    per language, and `outside_jurisdiction`: the details (with the message) of the 422 that
    creating an alert with these areas would give for reaching outside the jurisdiction, or
    None. Other area errors are raised as creating would raise them."""
    service.check_area_limits(areas, rules)
    parsed = service.parse_areas(areas)
    agency = store.get_agency(session=session, agency_id=officer.agency_id)
    outside = None
    try:
        service.check_jurisdiction(agency, parsed, rules.tolerance_km)
    except InvalidInput as exc:
        if exc.code != "outside_jurisdiction":
            raise
        outside = {"message": exc.message, **(exc.details or {})}
    counted = _count(session, [area.geometry for area in parsed], status, audience)
    return {
        "subscribers": len(counted.subscriber_ids),
        "areas": [{"subscribers": area.subscribers} for area in counted.areas],
        "languages": languages.count(session, counted.subscriber_ids),
        "outside_jurisdiction": outside,
    }


def preview_draft(
    *,
    session: Session,
    officer: Officer,
    draft: AlertIn,
    rules: service.Rules,
    audience: LiveAudience,
    languages: SubscriberLanguages,
    public_url: str,
    budget: int,
    alert_id: int | None = None,
) -> dict[str, Any]:
    """The SMS a draft would send in each language its audience speaks, and in English
    always, exactly as dispatch renders the first version: text, characters, segments,
    encoding and the subscribers who would receive it. The link names `alert_id`, or for a
    draft not stored yet the id the next alert would get (same length, so the same cost).
    Needs an app context (the SMS templates' catalogs)."""
    agency, parsed = service.check_draft(session=session, officer=officer, draft=draft, rules=rules)
    counted = _count(session, [area.geometry for area in parsed], draft.status, audience)
    spoken = languages.count(session, counted.subscriber_ids)
    number = alert_id or store.get_last_alert_id(session=session) + 1
    content = draft.model_dump(mode="json", exclude_none=True)
    order = sorted(spoken, key=lambda code: (code != DEFAULT_LANGUAGE, -spoken[code], code))
    if DEFAULT_LANGUAGE not in spoken:
        order.insert(0, DEFAULT_LANGUAGE)
    messages = []
    for language in order:
        sms = render_sms(
            alert_content=content,
            kind="alert",
            agency=agency.name,
            language=language,
            link=f"{public_url}/a/{number}",
            budget=budget,
        )
        cost = segments(sms)
        messages.append(
            {
                "language": language,
                "subscribers": spoken.get(language, 0),
                "sms": sms,
                "characters": len(sms),
                "segments": cost.count,
                "encoding": cost.encoding,
            }
        )
    return {"subscribers": len(counted.subscriber_ids), "messages": messages}
