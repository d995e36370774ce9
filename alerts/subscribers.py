"""Subscriber operations: bulk import, testers, opting out and back in."""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

from sqlalchemy.orm import Session

from alerts import store
from alerts.models import Subscriber
from alerts.phones import to_e164
from alerts.providers import OPTED_OUT
from geo.coords import parse_decimal
from geo.errors import GeoError, LocationError
from geo.locations import MAX_LOCATIONS_PER_SUBSCRIBER, point_location, zip_location
from haven.db import utcnow, write
from haven.errors import InvalidInput, NotFound
from haven.languages import LANGUAGES

BATCH = 20_000


@dataclasses.dataclass
class ImportReport:
    """What an import did: rows read, subscribers and locations added, bad rows by line."""

    rows: int = 0
    subscribers: int = 0
    locations: int = 0
    errors: list[tuple[int, str]] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class _Row:
    line: int
    phone: str
    language: str
    lat: float
    lon: float
    zip: str | None


def _parse(line: int, record: dict[str, str | None]) -> _Row:
    phone = to_e164(record.get("phone") or "")
    language = (record.get("language") or "en").strip().lower()
    if language not in LANGUAGES:
        raise ValueError(f"language {language!r} is not one of Haven's languages")
    zip_code = (record.get("zip") or "").strip()
    if zip_code:
        where = zip_location(zip_code)
    else:
        where = point_location(
            parse_decimal((record.get("lat") or "").strip(), "lat", LocationError),
            parse_decimal((record.get("lon") or "").strip(), "lon", LocationError),
        )
    return _Row(line, phone, language, where.lat, where.lon, where.zip_code)


def _rows(source: TextIO, report: ImportReport) -> Iterator[_Row]:
    reader = csv.DictReader(source)
    header = set(reader.fieldnames or [])
    if "phone" not in header or not ({"zip"} <= header or {"lat", "lon"} <= header):
        raise ValueError("the CSV needs a phone column, and zip or lat and lon columns")
    for record in reader:
        report.rows += 1
        try:
            yield _parse(reader.line_num, record)
        except (ValueError, GeoError) as exc:
            report.errors.append((reader.line_num, str(exc)))


def _batches(rows: Iterable[_Row]) -> Iterator[list[_Row]]:
    batch: list[_Row] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def import_subscribers(*, session: Session, source: TextIO) -> ImportReport:
    """Load subscribers from CSV (phone, language, and zip or lat,lon), one location a row.

    A phone on several rows gets several locations, up to five. Bad rows are reported by line
    number and skipped; every good row is stored.
    """
    report = ImportReport()
    for batch in _batches(_rows(source, report)):
        with write(session):
            _store_batch(session, batch, report)
    return report


def _store_batch(session: Session, batch: list[_Row], report: ImportReport) -> None:
    phones = list(dict.fromkeys(row.phone for row in batch))
    known = store.fetch_subscribers_by_phone(session=session, phones=phones)
    existing = list(known.values())
    new = [p for p in phones if p not in known]
    if new:
        language = {row.phone: row.language for row in batch}
        now = utcnow()
        store.add_subscribers(
            session=session,
            rows=[
                {
                    "phone": p,
                    "language": language[p],
                    "status": "active",
                    "is_tester": False,
                    "created_at": now,
                }
                for p in new
            ],
        )
        known.update(store.fetch_subscribers_by_phone(session=session, phones=new))
        report.subscribers += len(new)
    # New subscribers hold no location yet; only the others need counting.
    held = store.count_locations(session=session, subscriber_ids=existing)
    locations: list[dict[str, Any]] = []
    for row in batch:
        subscriber_id = known[row.phone]
        if held.get(subscriber_id, 0) >= MAX_LOCATIONS_PER_SUBSCRIBER:
            report.errors.append(
                (row.line, f"{row.phone} already has {MAX_LOCATIONS_PER_SUBSCRIBER} locations")
            )
            continue
        held[subscriber_id] = held.get(subscriber_id, 0) + 1
        locations.append(
            {"subscriber_id": subscriber_id, "lat": row.lat, "lon": row.lon, "zip": row.zip}
        )
    if locations:
        store.add_locations(session=session, rows=locations)
    report.locations += len(locations)


def set_tester(*, session: Session, phone: str, tester: bool = True) -> Subscriber:
    """Mark a subscriber as a tester: the only people Test and Exercise alerts reach."""
    try:
        number = to_e164(phone)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from exc
    with write(session):
        subscriber = store.get_subscriber_by_phone(session=session, phone=number)
        if subscriber is None:
            raise NotFound(f"No subscriber has the number {number}.")
        subscriber.is_tester = tester
    return subscriber


def mark_unreachable(session: Session, subscriber_id: int, error_code: str) -> None:
    """After a permanent provider error: 21610 (replied STOP) opts the number out; an invalid
    or unreachable number (21211, 30005, 30006) is marked `unreachable` and sent nothing more.
    Either way they leave the audience, until they text JOIN or START."""
    subscriber = session.get_one(Subscriber, subscriber_id)
    if subscriber.status != "active":
        return
    subscriber.status = "opted_out" if error_code == OPTED_OUT else "unreachable"
    store.set_subscriber_locations_active(
        session=session, subscriber_id=subscriber_id, active=False
    )
