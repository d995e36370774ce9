"""What a draft would do, before anything is stored: the audience of its areas (in all, per
area and per language) and the SMS each language's subscribers would receive.

The console calls these while an officer types; they run the same checks as creating an
alert (alerts/service.py) and count with the same live audience index. Counting languages in
the database costs a second for a county's audience (a join over 100,000s of ids), so each
process keeps every subscriber's language in memory (`SubscriberLanguages`): new subscribers
are read on every count, and the whole table again in the background once a minute, which is
how a changed language is seen.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from flask import Flask
from sqlalchemy.orm import Session

from alerts import service, store
from alerts.audience import LiveAudience
from alerts.models import Officer
from alerts.schemas import AlertIn, AreaIn
from alerts.sms import render_sms, segments
from geo.index import Audience
from haven.db import Database
from haven.errors import InvalidInput
from haven.i18n import DEFAULT_LANGUAGE

log = logging.getLogger(__name__)
REFRESH_SECONDS = 60.0
EXTENSION = "haven.subscriber_languages"


@dataclasses.dataclass(frozen=True)
class _Table:
    """Languages by code (0 is the default), each subscriber's code by id, the last id read."""

    names: tuple[str, ...]
    codes: np.ndarray[Any, Any]
    upto: int

    def merged(self, rows: Sequence[tuple[int, str]], last: int) -> _Table:
        """This table with the languages of `rows` (ids up to `last`); a new one if it grows."""
        names, codes = list(self.names), self.codes
        if len(codes) <= last:
            codes = np.zeros(max(last + 1, 2 * len(codes)), np.uint8)
            codes[: len(self.codes)] = self.codes
        elif rows:
            codes = codes.copy()  # a count may be reading this table: never change it
        index = {name: code for code, name in enumerate(names)}
        for _subscriber, language in rows:
            if language not in index and len(names) < 256:
                index[language] = len(names)
                names.append(language)
        if rows:
            ids = np.fromiter((row[0] for row in rows), np.int64, len(rows))
            codes[ids] = np.fromiter((index.get(row[1], 0) for row in rows), np.uint8, len(rows))
        return _Table(tuple(names), codes, max(last, self.upto))


_EMPTY = _Table((DEFAULT_LANGUAGE,), np.zeros(0, np.uint8), 0)


class SubscriberLanguages:
    """Every subscriber's language as a one-byte code in an array indexed by subscriber id,
    so that an audience's languages are counted with one `bincount`.

    Each count first reads the subscribers numbered above the last id read (an indexed range:
    a new sign-up counts at once). A language changed on an existing subscriber is seen at
    the next full read, started in the background (with `sessions`) when the last one is
    older than `refresh_seconds`. A subscriber the table does not know yet counts in the
    default language.
    """

    def __init__(
        self,
        *,
        sessions: Callable[[], Session] | None = None,
        refresh_seconds: float = REFRESH_SECONDS,
    ) -> None:
        self.sessions = sessions
        self.refresh_seconds = refresh_seconds
        self._table: _Table | None = None
        self._read_at = 0.0
        self._lock = threading.Lock()
        self._refresher: threading.Thread | None = None

    def count(self, session: Session, subscriber_ids: np.ndarray[Any, Any]) -> dict[str, int]:
        """How many of these subscribers speak each language (languages of none left out)."""
        with self._lock:
            if self._table is None:
                self._table, self._read_at = _read(session, _EMPTY), time.monotonic()
            else:
                self._table = _read(session, self._table)
            table = self._table
            stale = time.monotonic() - self._read_at > self.refresh_seconds
        if stale:
            self._refresh_in_background()
        ids = np.asarray(subscriber_ids)
        known = ids[ids < len(table.codes)]
        counts = np.bincount(table.codes[known], minlength=len(table.names))
        counts[0] += len(ids) - len(known)
        return {table.names[code]: int(n) for code, n in enumerate(counts) if n}

    def _refresh_in_background(self) -> None:
        with self._lock:
            if self.sessions is None or (self._refresher and self._refresher.is_alive()):
                return
            self._refresher = threading.Thread(
                target=self._refresh, name="haven-subscriber-languages", daemon=True
            )
            self._refresher.start()

    def _refresh(self) -> None:
        assert self.sessions is not None
        try:
            with self.sessions() as session:
                fresh = _read(session, _EMPTY)  # built aside, then swapped in
            with self._lock:
                if self._table is None or fresh.upto >= self._table.upto:
                    self._table, self._read_at = fresh, time.monotonic()
        except Exception:
            log.exception("could not read the subscribers' languages; tried again when asked")


def _read(session: Session, table: _Table) -> _Table:
    """`table` with the subscribers numbered above its last id read."""
    rows, last = store.fetch_languages_after(
        session=session, after_id=table.upto, default=DEFAULT_LANGUAGE
    )
    return table.merged(rows, last) if rows or last > table.upto else table


def get_languages(app: Flask) -> SubscriberLanguages:
    """The app's subscriber languages, made on first use."""
    if EXTENSION not in app.extensions:
        database: Database = app.extensions["haven.db"]
        app.extensions[EXTENSION] = SubscriberLanguages(sessions=database.sessions)
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
