"""Subscriber operations: bulk import, testers, opting out and back in.

The import reads the CSV in pieces of whole records. The first piece is checked in this
process; the rest in worker processes forked after it (so they inherit the warm ZIP table),
while this process stores the pieces already checked, in file order, one write transaction
each. See docs/benchmarks.md ("Subscriber import") for what each part costs.
"""

from __future__ import annotations

import collections
import concurrent.futures
import csv
import dataclasses
import functools
import io
import multiprocessing
import os
from collections.abc import Iterator
from typing import TextIO

from sqlalchemy.orm import Session

from alerts import store
from alerts.models import Subscriber
from alerts.phones import to_e164
from geo.coords import check_lat_lon, parse_decimal
from geo.errors import GeoError, LocationError
from geo.locations import MAX_LOCATIONS_PER_SUBSCRIBER, zip_location
from haven.db import utcnow, write
from haven.errors import InvalidInput, NotFound
from haven.languages import LANGUAGES

CHUNK_CHARS = 1_500_000  # about 45,000 rows of a typical file: one write transaction each
MAX_WORKERS = 4
_LANGUAGES = frozenset(LANGUAGES)

# A good row: (line, phone, language, lat, lon, zip)
_Row = tuple[int, str, str, float, float, str | None]


@dataclasses.dataclass
class ImportReport:
    """What an import did: rows read, subscribers and locations added, bad rows by line."""

    rows: int = 0
    subscribers: int = 0
    locations: int = 0
    errors: list[tuple[int, str]] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class _Columns:
    """Where each field is in a record: the last column of that name, as csv.DictReader
    reads it. A missing column points just past the header, where records are padded."""

    phone: int
    language: int
    zip: int
    lat: int
    lon: int
    width: int  # how many fields a record is padded to


@dataclasses.dataclass
class CheckedChunk:
    """One piece of the file, validated: how many records, the good rows, the bad by line."""

    records: int = 0
    rows: list[_Row] = dataclasses.field(default_factory=list)
    errors: list[tuple[int, str]] = dataclasses.field(default_factory=list)


def _columns(header: list[str] | None) -> _Columns:
    where = {name: index for index, name in enumerate(header or [])}
    if "phone" not in where or not ("zip" in where or {"lat", "lon"} <= where.keys()):
        raise ValueError("the CSV needs a phone column, and zip or lat and lon columns")
    absent = len(header or [])
    phone, language, zip_code, lat, lon = (
        where.get(name, absent) for name in ("phone", "language", "zip", "lat", "lon")
    )
    width = max(phone, language, zip_code, lat, lon) + 1
    return _Columns(phone, language, zip_code, lat, lon, width)


# Bulk files repeat a few tens of thousands of ZIP codes; bad codes are not cached (rare).
_zip_location = functools.lru_cache(maxsize=None)(zip_location)


def _parse(line: int, record: list[str], columns: _Columns) -> _Row:
    phone = to_e164(record[columns.phone])
    language = (record[columns.language] or "en").strip().lower()
    if language not in _LANGUAGES:
        raise ValueError(f"language {language!r} is not one of Haven's languages")
    zip_code = record[columns.zip].strip()
    if zip_code:
        where = _zip_location(zip_code)
        return (line, phone, language, where.lat, where.lon, where.zip_code)
    lat = parse_decimal(record[columns.lat].strip(), "lat", LocationError)
    lon = parse_decimal(record[columns.lon].strip(), "lon", LocationError)
    # All that point_location checks of two parsed decimals (finite already), and its words.
    check_lat_lon(lat, lon, "the location", LocationError)
    return (line, phone, language, lat, lon, None)


def _check(lines_before: int, text: str, columns: _Columns) -> CheckedChunk:
    """Validate a piece of whole records that starts after line `lines_before` of the file."""
    checked = CheckedChunk()
    reader = csv.reader(io.StringIO(text))
    for record in reader:
        if not record:
            continue  # a blank line is no row (csv.DictReader skips them)
        checked.records += 1
        if len(record) < columns.width:
            # A short record lacks its last fields: "" as DictReader's None was read before.
            record += [""] * (columns.width - len(record))
        line = lines_before + reader.line_num
        try:
            checked.rows.append(_parse(line, record, columns))
        except (ValueError, GeoError) as exc:
            checked.errors.append((line, str(exc)))
    return checked


def _records_end(text: str) -> int:
    """How much of `text` (which starts at a record) is whole records: up to the last line
    end outside any quoted field. A quoted field may hold line breaks, so when there are
    quotes the csv module itself finds the record ends, and the last record is left over
    in case it continues in the next piece."""
    end = text.rfind("\n") + 1
    if '"' not in text[:end]:
        return end
    lines = io.StringIO(text[:end]).readlines()
    reader = csv.reader(lines)
    whole = last = 0
    for _record in reader:
        whole, last = last, reader.line_num
    return sum(map(len, lines[:whole]))


def _pieces(source: TextIO, lines_before: int, size: int) -> Iterator[tuple[int, str]]:
    """The rest of `source` in pieces of about `size` characters of whole records, each with
    the number of lines before it."""
    left = ""
    while block := source.read(size):
        text = left + block
        end = _records_end(text)
        if end:
            yield lines_before, text[:end]
            lines_before += text.count("\n", 0, end)
        left = text[end:]
    if left:
        yield lines_before, left


def _worker_count() -> int:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(MAX_WORKERS, (cpus or 1) - 1))


def check_subscribers(
    source: TextIO, *, workers: int | None = None, chunk_chars: int = CHUNK_CHARS
) -> Iterator[CheckedChunk]:
    """Read and validate a subscriber CSV, yielding its pieces in file order.

    Raises ValueError if the header lacks the needed columns. The first piece is checked
    here; if there are more, they go to `workers` processes (default: one per CPU but this
    one's, 1 to 4; 0 checks everything here), at most two pieces ahead per worker.
    """
    reader = csv.reader(source)
    columns = _columns(next(reader, None))
    pieces = _pieces(source, reader.line_num, chunk_chars)
    first = next(pieces, None)
    if first is None:
        return
    checked = _check(*first, columns)
    workers = _worker_count() if workers is None else workers
    if workers == 0:
        yield checked
        for piece in pieces:
            yield _check(*piece, columns)
        return
    # Forked after the first piece, the workers start with this process's caches (ZIP
    # table, phone exchanges) and import nothing; they run only the pure functions above.
    context = multiprocessing.get_context("fork")
    pool = concurrent.futures.ProcessPoolExecutor(max_workers=workers, mp_context=context)
    ahead: collections.deque[concurrent.futures.Future[CheckedChunk]] = collections.deque()
    done: CheckedChunk | None = checked
    try:
        for lines_before, text in pieces:
            ahead.append(pool.submit(_check, lines_before, text, columns))
            if done is not None:  # the workers have work: store the first piece meanwhile
                yield done
                done = None
            elif len(ahead) > 2 * workers:
                yield ahead.popleft().result()
        if done is not None:
            yield done
        while ahead:
            yield ahead.popleft().result()
    finally:
        pool.shutdown(cancel_futures=True)


def import_subscribers(
    *, session: Session, source: TextIO, workers: int | None = None, chunk_chars: int = CHUNK_CHARS
) -> ImportReport:
    """Load subscribers from CSV (phone, language, and zip or lat,lon), one location a row.

    A phone on several rows gets several locations, up to five; a new subscriber takes the
    language of their first row, and an existing one keeps theirs. Bad rows are reported by
    line number, in line order, and skipped; every good row is stored. Each piece of the
    file (`chunk_chars`) is stored in one write transaction; `workers` as `check_subscribers`.
    """
    report = ImportReport()
    for checked in check_subscribers(source, workers=workers, chunk_chars=chunk_chars):
        report.rows += checked.records
        report.errors += checked.errors
        if checked.rows:
            with write(session):
                _store_rows(session, checked.rows, report)
    report.errors.sort(key=lambda error: error[0])
    return report


def _store_rows(session: Session, rows: list[_Row], report: ImportReport) -> None:
    languages: dict[str, str] = {}
    for row in rows:
        languages.setdefault(row[1], row[2])
    # Every number is offered as new; one that is a subscriber's already (or became one
    # since, on PostgreSQL) is left as it is.
    added = store.add_new_subscribers(
        session=session, rows=list(languages.items()), created_at=utcnow()
    )
    report.subscribers += len(added)
    locations: list[tuple[int, float, float, str | None]]
    if len(added) == len(rows):
        # The usual piece: every row a new number of its own, one location each.
        locations = [(added[row[1]], row[3], row[4], row[5]) for row in rows]
        store.add_location_rows(session=session, rows=locations)
        report.locations += len(locations)
        return
    known = store.fetch_subscribers_by_phone(
        session=session, phones=[phone for phone in languages if phone not in added]
    )
    # New subscribers hold no location yet; only the others need counting.
    held = store.count_locations(session=session, subscriber_ids=list(known.values()))
    known.update(added)
    locations = []
    for line, phone, _language, lat, lon, zip_code in rows:
        subscriber_id = known[phone]
        count = held.get(subscriber_id, 0)
        if count >= MAX_LOCATIONS_PER_SUBSCRIBER:
            report.errors.append(
                (line, f"{phone} already has {MAX_LOCATIONS_PER_SUBSCRIBER} locations")
            )
            continue
        held[subscriber_id] = count + 1
        locations.append((subscriber_id, lat, lon, zip_code))
    store.add_location_rows(session=session, rows=locations)
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
    """After a permanent provider error: 21610 (replied STOP; Vonage's like it in
    alerts.providers.OPTED_OUT_CODES) opts the number out; an invalid or unreachable number
    (21211, 30005, 30006, vonage-dlr-3) is marked `unreachable` and sent nothing more.
    Either way they leave the audience, until they text JOIN or START."""
    subscriber = session.get_one(Subscriber, subscriber_id)
    if subscriber.status != "active":
        return
    from alerts.providers import OPTED_OUT_CODES  # Twilio's 21610 and Vonage's like it

    subscriber.status = "opted_out" if error_code in OPTED_OUT_CODES else "unreachable"
    store.set_subscriber_locations_active(
        session=session, subscriber_id=subscriber_id, active=False
    )
