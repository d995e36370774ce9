"""Full sync of a 1,000,000-hash feed: native feed vs the StopNCII-compatible route vs export.

Run from the repository root:

    .venv/bin/python -m bench.takedown_sync [--hashes 1000000] [--workers 2] [--threads 4]

Creates a PostgreSQL database of its own (haven_bench_<random>), loads the feed directly with
COPY (the rows `takedown.service.submit_case` would write), serves it with `haven serve`, then
a client on loopback syncs everything through `GET /api/v1/feed/hashes` (10,000 a page), the
StopNCII route `GET /stopncii/v1/FetchHashes` (800 a page, python-threatexchange's own client)
and the NDJSON export, checking that every hash arrives exactly once. Prints a markdown report,
stops the server and drops the database.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import datetime
import json
import os
import pstats
import random
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import psycopg
import requests
from stdnum.iso7064 import mod_37_2

from bench.common import (
    CpuMeter,
    HavenServer,
    Machine,
    PlatformKeys,
    add_platform,
    backend_pids,
    describe_machine,
    exit_on_sigterm,
    libpq_url,
    markdown_table,
    report_header,
    temporary_database,
)

# What a case holds: 80% are 1-4 images (an MD5 and a PDQ hash of each), 20% one video's MD5.
VIDEO_CASE_SHARE = 0.2
IMAGES_PER_CASE = (1, 2, 3, 4)
IMAGES_WEIGHTS = (0.4, 0.3, 0.2, 0.1)
KINDS = (("image", "md5"), ("image", "pdq"), ("video", "md5"))
STOPNCII_KINDS = {("image", "pdq"): "ImagePDQ", ("video", "md5"): "VideoMD5"}
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # takedown.codes.ALPHABET
SPREAD_DAYS = 180
NULL = "\\N"  # COPY's text format
COPY_CHUNK = 20_000
GOAL_NATIVE_RATE = 100_000
NATIVE = "/api/v1/feed/hashes"
STOPNCII = "/stopncii/v1/FetchHashes"
EXPORT = "/api/v1/feed/hashes/export"
STOPNCII_PAGE = 800  # what python-threatexchange asks for
GOAL_NATIVE_OVER_STOPNCII = 5.0


# The data set


@dataclasses.dataclass
class Feed:
    """What was loaded: every hash's value by feed position, and how long loading took."""

    values: list[str]  # values[i] has cursor first_cursor + i
    kinds: bytearray  # index into KINDS, by feed position
    first_cursor: int
    cases: int
    seconds: dict[str, float]

    @property
    def last_cursor(self) -> int:
        """The cursor of the newest change."""
        return self.first_cursor + len(self.values) - 1

    def count(self, kind: tuple[str, str]) -> int:
        """How many hashes are of `kind` (media, algorithm)."""
        return self.kinds.count(KINDS.index(kind))


def plan_feed(total: int, seed: int) -> tuple[bytearray, list[int], list[str]]:
    """Kinds and case of each of `total` hashes, in feed order, and their random hex values."""
    rng = random.Random(seed)
    kinds = bytearray()
    case_of: list[int] = []
    case = 0
    while len(kinds) < total:  # each case adds at least one hash
        if rng.random() < VIDEO_CASE_SHARE:
            kinds.append(2)
            case_of.append(case)
        else:
            images = rng.choices(IMAGES_PER_CASE, IMAGES_WEIGHTS)[0]
            kinds += bytes([0, 1]) * images
            case_of += [case] * (2 * images)
        case += 1
    del kinds[total:], case_of[total:]
    blob = rng.randbytes(32 * total).hex()  # 128 random bits for MD5s, 256 for PDQ
    values = [blob[64 * i : 64 * i + (64 if kind == 1 else 32)] for i, kind in enumerate(kinds)]
    return kinds, case_of, values


def case_number(index: int) -> str:
    """A distinct, valid case number (normalised form) for the `index`-th loaded case."""
    body = ""
    for _ in range(8):
        index, digit = divmod(index, len(ALPHABET))
        body = ALPHABET[digit] + body
    return body + mod_37_2.calc_check_digit(body, alphabet=ALPHABET)


def _reserve(cursor: psycopg.Cursor[Any], table: str, column: str, count: int) -> int:
    """Take `count` values from a table's own sequence; returns the first."""
    row = cursor.execute(
        "SELECT setval(s, nextval(s) + %s - 1) FROM pg_get_serial_sequence(%s, %s) AS s",
        (count, table, column),
    ).fetchone()
    if row is None:
        raise RuntimeError(f"{table}.{column} has no sequence")
    return int(row[0]) - count + 1


def _copy(cursor: psycopg.Cursor[Any], statement: str, lines: Iterator[str]) -> None:
    with cursor.copy(statement) as copy:
        chunk: list[str] = []
        for line in lines:
            chunk.append(line)
            if len(chunk) >= COPY_CHUNK:
                copy.write("".join(chunk))
                chunk.clear()
        copy.write("".join(chunk))


def load_feed(database_url: str, total: int, seed: int = 1) -> Feed:
    """Write `total` active hashes, their cases and feed changes straight into PostgreSQL.

    The rows are those `takedown.service.submit_case` writes: status 'active', hour-truncated
    times (spread over the last SPREAD_DAYS days, in case order), ids and cursors taken from
    the tables' own sequences, one feed change per hash in case order. Every case shares one
    real Argon2id PIN hash (hashing 300,000 PINs would take minutes and is measured by the
    submission benchmark). Foreign-key triggers are skipped during COPY (the rows are
    consistent by construction), then the tables are vacuumed and analysed.
    """
    from takedown.codes import hash_pin, new_pin

    seconds: dict[str, float] = {}
    started = time.perf_counter()
    kinds, case_of, values = plan_feed(total, seed)
    cases = case_of[-1] + 1 if case_of else 0
    pin_hash = hash_pin(new_pin())
    now = datetime.datetime.now(datetime.UTC).replace(minute=0, second=0, microsecond=0)
    first_hour = now - datetime.timedelta(days=SPREAD_DAYS)
    hours = SPREAD_DAYS * 24
    stamps = [
        (first_hour + datetime.timedelta(hours=hours * c // max(cases, 1))).strftime(
            "%Y-%m-%d %H:00:00+00"
        )
        for c in range(cases)
    ]
    seconds["generate"] = time.perf_counter() - started

    started = time.perf_counter()
    with psycopg.connect(libpq_url(database_url)) as connection, connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")  # no FK triggers in COPY
        first_case = _reserve(cursor, "takedown_case", "id", cases)
        first_hash = _reserve(cursor, "takedown_hash", "id", total)
        first_cursor = _reserve(cursor, "takedown_feed_change", "cursor", total)
        _copy(
            cursor,
            "COPY takedown_case (id, number, pin_hash, status, created_at) FROM STDIN",
            (
                f"{first_case + c}\t{case_number(c + 7 * 31**6)}\t{pin_hash}\tactive\t{stamps[c]}\n"
                for c in range(cases)
            ),
        )
        _copy(
            cursor,
            "COPY takedown_hash (id, media, algorithm, value, quality, status, cursor,"
            " changed_at) FROM STDIN",
            (
                f"{first_hash + i}\t{KINDS[k][0]}\t{KINDS[k][1]}\t{values[i]}\t"
                f"{50 + (i * 7919) % 51 if k == 1 else NULL}\tactive\t{first_cursor + i}\t"
                f"{stamps[case_of[i]]}\n"
                for i, k in enumerate(kinds)
            ),
        )
        _copy(
            cursor,
            "COPY takedown_case_hash (case_id, hash_id) FROM STDIN",
            (f"{first_case + case_of[i]}\t{first_hash + i}\n" for i in range(total)),
        )
        _copy(
            cursor,
            "COPY takedown_feed_change (cursor, hash_id, media, algorithm, value, status,"
            " changed_at) FROM STDIN",
            (
                f"{first_cursor + i}\t{first_hash + i}\t{KINDS[k][0]}\t{KINDS[k][1]}\t"
                f"{values[i]}\tactive\t{stamps[case_of[i]]}\n"
                for i, k in enumerate(kinds)
            ),
        )
    seconds["copy"] = time.perf_counter() - started

    started = time.perf_counter()
    with psycopg.connect(libpq_url(database_url), autocommit=True) as connection:
        connection.execute(
            "VACUUM (ANALYZE) takedown_case, takedown_hash, takedown_case_hash,"
            " takedown_feed_change"
        )
    seconds["vacuum analyze"] = time.perf_counter() - started
    return Feed(values, kinds, first_cursor, cases, seconds)


# Syncing


@dataclasses.dataclass
class Sync:
    """One full pass over a route, page by page."""

    route: str
    page_size: int
    records: int = 0
    pages: int = 0
    wire_bytes: int = 0
    wall: float = 0.0
    fetch: float = 0.0  # request sent until the whole body is in (or, for a library, the call)
    parse: float = 0.0  # json.loads
    verify: float = 0.0  # bookkeeping that checks each record
    server: float = 0.0  # in-app time, from Haven's access log
    cpu: dict[str, float] = dataclasses.field(default_factory=dict)  # CPU seconds by party
    others: float = 0.0  # cores busy with anything else (other tenants, PostgreSQL upkeep)
    problems: list[str] = dataclasses.field(default_factory=list)

    @property
    def rate(self) -> float:
        """Records per second, end to end."""
        return self.records / self.wall if self.wall else 0.0


def sync_native(
    base_url: str, keys: PlatformKeys, feed: Feed, *, limit: int, budget: float
) -> Sync:
    """Poll `/api/v1/feed/hashes` from cursor 0 until `has_more` is false."""
    result = Sync("native feed `GET /api/v1/feed/hashes`", limit)
    total = len(feed.values)
    seen = bytearray(total)
    duplicates = wrong = 0
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {keys.api_key}"
        url = f"{base_url}/api/v1/feed/hashes"
        after = "0"
        started = time.perf_counter()
        for _ in range(total // limit + 10):
            t0 = time.perf_counter()
            response = session.get(url, params={"after": after, "limit": limit}, timeout=120)
            response.raise_for_status()
            body = response.content
            t1 = time.perf_counter()
            page = json.loads(body)
            t2 = time.perf_counter()
            for change in page["changes"]:
                i = int(change["cursor"]) - feed.first_cursor
                if not (0 <= i < total and feed.values[i] == change["value"]):
                    wrong += 1
                elif seen[i]:
                    duplicates += 1
                else:
                    seen[i] = 1
            t3 = time.perf_counter()
            result.pages += 1
            result.records += len(page["changes"])
            result.wire_bytes += len(body)
            result.fetch += t1 - t0
            result.parse += t2 - t1
            result.verify += t3 - t2
            after = page["next"]
            if not page["has_more"]:
                break
            if t3 - started > budget:
                result.problems.append(f"stopped at the {budget:.0f} s budget")
                break
        result.wall = time.perf_counter() - started
    missing = total - sum(seen)
    result.problems += _problems(missing=missing, duplicates=duplicates, wrong=wrong)
    return result


def sync_stopncii(
    base_url: str, keys: PlatformKeys, feed: Feed, *, limit: int, budget: float
) -> Sync:
    """Follow FetchHashes with python-threatexchange's StopNCII client, as HMA would."""
    from threatexchange.exchanges.clients.stopncii.api import StopNCIIAPI

    api = StopNCIIAPI(
        subscription_key=keys.stopncii_subscription_key,
        fetch_function_key=keys.stopncii_fetch_function_key,
        base_url_override=f"{base_url}/stopncii/v1",
    )
    result = Sync("StopNCII `FetchHashes`, threatexchange `StopNCIIAPI`", limit)
    received: list[tuple[str, str]] = []
    token = ""
    started = time.perf_counter()
    for _ in range(len(feed.values) // limit + 10):
        t0 = time.perf_counter()
        page = api.fetch_hashes(page_size=limit, next_page=token)
        t1 = time.perf_counter()
        received += [(r.signalType.value, r.hashValue) for r in page.hashRecords]
        result.verify += time.perf_counter() - t1
        result.fetch += t1 - t0
        result.pages += 1
        result.records += len(page.hashRecords)
        token = page.nextPageToken or ""
        if not page.hasMoreRecords:
            break
        if time.perf_counter() - started > budget:
            result.problems.append(f"stopped at the {budget:.0f} s budget")
            break
    result.wall = time.perf_counter() - started
    result.problems += _check_stopncii(feed, received)
    return result


def sync_stopncii_raw(
    base_url: str, keys: PlatformKeys, feed: Feed, *, limit: int, budget: float
) -> Sync:
    """The same route with a keep-alive session and plain json.loads: the route's own cost."""
    result = Sync("StopNCII `FetchHashes`, keep-alive session + json.loads", limit)
    received: list[tuple[str, str]] = []
    with requests.Session() as session:
        session.headers["x-functions-key"] = keys.stopncii_fetch_function_key
        session.headers["Ocp-Apim-Subscription-Key"] = keys.stopncii_subscription_key
        url = f"{base_url}/stopncii/v1/FetchHashes"
        params: dict[str, Any] = {"startTimestamp": 10, "pageSize": limit}
        started = time.perf_counter()
        for _ in range(len(feed.values) // limit + 10):
            t0 = time.perf_counter()
            response = session.get(url, params=params, timeout=120)
            response.raise_for_status()
            body = response.content
            t1 = time.perf_counter()
            page = json.loads(body)
            t2 = time.perf_counter()
            received += [(r["signalType"], r["hashValue"]) for r in page["hashRecords"]]
            t3 = time.perf_counter()
            result.pages += 1
            result.records += len(page["hashRecords"])
            result.wire_bytes += len(body)
            result.fetch += t1 - t0
            result.parse += t2 - t1
            result.verify += t3 - t2
            params["nextPageToken"] = page["nextPageToken"]
            if not page["hasMoreRecords"]:
                break
            if t3 - started > budget:
                result.problems.append(f"stopped at the {budget:.0f} s budget")
                break
        result.wall = time.perf_counter() - started
    result.problems += _check_stopncii(feed, received)
    return result


def _check_stopncii(feed: Feed, received: Sequence[tuple[str, str]]) -> list[str]:
    expected = {
        (STOPNCII_KINDS[KINDS[k]], feed.values[i])
        for i, k in enumerate(feed.kinds)
        if KINDS[k] in STOPNCII_KINDS
    }
    got = set(received)
    return _problems(
        missing=len(expected - got),
        duplicates=len(received) - len(got),
        wrong=len(got - expected),
    )


def export(base_url: str, keys: PlatformKeys, feed: Feed, *, gzip: bool, budget: float) -> Sync:
    """Stream the NDJSON export and parse every line."""
    result = Sync("export `GET /api/v1/feed/hashes/export`" + (" (gzip)" if gzip else ""), 0)
    headers = {"Authorization": f"Bearer {keys.api_key}"}
    headers["Accept-Encoding"] = "gzip" if gzip else "identity"
    expected = set(feed.values)
    received: set[str] = set()
    lines = 0
    started = time.perf_counter()
    with requests.get(
        f"{base_url}/api/v1/feed/hashes/export", headers=headers, stream=True, timeout=120
    ) as response:
        response.raise_for_status()
        if response.headers.get("Haven-Feed-Cursor") != str(feed.last_cursor):
            result.problems.append(f"cursor header {response.headers.get('Haven-Feed-Cursor')}")
        if gzip != (response.headers.get("Content-Encoding") == "gzip"):
            result.problems.append(f"Content-Encoding {response.headers.get('Content-Encoding')}")
        inflate = zlib.decompressobj(31) if gzip else None
        rest = b""
        for chunk in response.raw.stream(1 << 16, decode_content=False):
            t0 = time.perf_counter()
            result.wire_bytes += len(chunk)
            data = rest + (inflate.decompress(chunk) if inflate else chunk)
            *complete, rest = data.split(b"\n")
            records = [json.loads(line) for line in complete]
            t2 = time.perf_counter()
            received.update(r["value"] for r in records)
            lines += len(records)
            result.verify += time.perf_counter() - t2
            result.parse += t2 - t0
            if time.perf_counter() - started > budget:
                result.problems.append(f"stopped at the {budget:.0f} s budget")
                break
    result.wall = time.perf_counter() - started
    result.fetch = result.wall - result.parse - result.verify
    result.records = lines
    result.pages = 1
    result.problems += _problems(
        missing=len(expected - received),
        duplicates=lines - len(received),
        wrong=len(received - expected),
    )
    return result


def _problems(*, missing: int, duplicates: int, wrong: int) -> list[str]:
    named = {"missing": missing, "duplicated": duplicates, "unexpected": wrong}
    return [f"{n:,} {label}" for label, n in named.items() if n]


# Where the server's time goes


PROFILE_BUCKETS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("PostgreSQL wait + psycopg", ("psycopg",)),
    ("SQLAlchemy (rows, types, ORM)", ("sqlalchemy",)),
    ("JSON encoding", ("json",)),
    ("Flask / Werkzeug", ("flask", "werkzeug")),
    ("Haven (building the page)", ("/takedown/", "/haven/")),
    ("pydantic", ("pydantic",)),
)


def profile_in_process(database_url: str, keys: PlatformKeys, feed: Feed, limit: int) -> str:
    """cProfile of native and StopNCII pages served in-process (Flask test client, no socket).

    Returns a markdown table of in-app time per page, by where it is spent.
    """
    from haven.app import create_app
    from haven.settings import Settings

    app = create_app(Settings(database_url=database_url, log_level="WARNING"))
    client = app.test_client()
    native = {"Authorization": f"Bearer {keys.api_key}"}
    stopncii = {
        "x-functions-key": keys.stopncii_fetch_function_key,
        "Ocp-Apim-Subscription-Key": keys.stopncii_subscription_key,
    }
    step = max(1, len(feed.values) // 6)
    native_urls = [
        f"{NATIVE}?after={feed.first_cursor - 1 + step * k}&limit={limit}" for k in range(5)
    ]
    stopncii_urls = [f"{STOPNCII}?pageSize={STOPNCII_PAGE}&startTimestamp=10"]
    for _ in range(4):  # consecutive pages, by the tokens the route hands out
        page = _get(client, stopncii_urls[-1], stopncii).get_json()
        stopncii_urls.append(f"{STOPNCII}?pageSize={STOPNCII_PAGE}&{_token(page)}")

    rows = []
    columns: list[dict[str, float]] = []
    for name, urls, headers, records in (
        (f"native, {limit:,}/page", native_urls, native, limit),
        (f"StopNCII, {STOPNCII_PAGE}/page", stopncii_urls, stopncii, STOPNCII_PAGE),
    ):
        _get(client, urls[0], headers)  # warm up
        started = time.perf_counter()
        for url in urls:
            _get(client, url, headers)
        plain = (time.perf_counter() - started) / len(urls)
        profiler = cProfile.Profile()
        profiler.enable()
        for url in urls:
            _get(client, url, headers)
        profiler.disable()
        columns.append(_bucket_shares(profiler))
        rows.append((name, plain * 1000, records / plain))
    app.extensions["haven.db"].dispose()
    table = markdown_table(
        ["in-process page (no socket)", "ms/page", "records/s"],
        rows,
    )
    labels = [label for label, _ in PROFILE_BUCKETS] + ["other"]
    shares_table = markdown_table(
        ["share of in-app time (cProfile, tottime)", *[name for name, _, _ in rows]],
        [(label, *[f"{c.get(label, 0.0) * 100:.0f}%" for c in columns]) for label in labels],
    )
    return table + "\n\n" + shares_table


def _get(client: Any, url: str, headers: dict[str, str]) -> Any:
    response = client.get(url, headers=headers)
    if response.status_code != 200:
        raise RuntimeError(f"GET {url}: {response.status_code} {response.data[:200]!r}")
    return response


def _token(page: dict[str, Any]) -> str:
    return f"nextPageToken={page['nextPageToken']}"


def _bucket_shares(profiler: cProfile.Profile) -> dict[str, float]:
    stats = pstats.Stats(profiler)
    totals: Counter[str] = Counter()
    for (filename, _line, function), row in stats.stats.items():  # type: ignore[attr-defined]
        where = f"{filename} {function}".lower()
        label = next(
            (label for label, keys in PROFILE_BUCKETS if any(k in where for k in keys)), "other"
        )
        totals[label] += row[2]  # tottime
    grand = sum(totals.values()) or 1.0
    return {label: seconds / grand for label, seconds in totals.items()}


# The report


def measured(server: HavenServer, url: str, path: str, run: Callable[[], Sync]) -> Sync:
    """Run one sync, adding the in-app time of its requests and everyone's CPU seconds."""
    mark = server.log_offset()
    meter = CpuMeter(
        {
            "server": server.pids(),
            "postgres": lambda: backend_pids(url),
            "client": [os.getpid()],
        }
    )
    meter.start()
    result = run()
    meter.stop()
    result.server = sum(server.server_times(path=path, since=mark))
    result.cpu = dict(meter.seconds)
    result.others = (meter.machine_busy - sum(meter.seconds.values())) / meter.wall
    return result


def main() -> None:
    """Load the feed, sync it every way, print the report; leave nothing behind."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hashes", type=int, default=1_000_000)
    parser.add_argument("--page", type=int, default=10_000, help="native feed page size")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--budget", type=float, default=120.0, help="seconds per sync, at most")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    exit_on_sigterm()

    machine = describe_machine()
    with temporary_database() as url:
        feed = load_feed(url, args.hashes, args.seed)
        keys = add_platform(url, "bench-sync")
        env = {"HAVEN_LOG_LEVEL": "INFO"}  # the access log gives in-app time per request
        runs: list[Sync] = []
        with HavenServer(url, workers=args.workers, threads=args.threads, env=env) as server:
            base, budget, page = server.base_url, args.budget, args.page
            for path, run in (
                (NATIVE, lambda: sync_native(base, keys, feed, limit=page, budget=budget)),
                (
                    STOPNCII,
                    lambda: sync_stopncii(base, keys, feed, limit=STOPNCII_PAGE, budget=budget),
                ),
                (
                    STOPNCII,
                    lambda: sync_stopncii_raw(base, keys, feed, limit=STOPNCII_PAGE, budget=budget),
                ),
                (EXPORT, lambda: export(base, keys, feed, gzip=False, budget=budget)),
                (EXPORT, lambda: export(base, keys, feed, gzip=True, budget=budget)),
            ):
                runs.append(measured(server, url, path, run))
        profile = profile_in_process(url, keys, feed, args.page)
    print(report(machine, args, feed, runs, profile))


def report(
    machine: Machine, args: argparse.Namespace, feed: Feed, runs: Sequence[Sync], profile: str
) -> str:
    """The markdown report."""
    total = len(feed.values)
    native, stopncii, stopncii_raw = runs[0], runs[1], runs[2]
    parts = [
        report_header(
            f"Take It Down: full sync of {total:,} hashes",
            machine,
            [
                f"Server: `haven serve --workers {args.workers} --threads {args.threads}` "
                "(gunicorn gthread) on 127.0.0.1, PostgreSQL on the same machine; one "
                "sequential client (requests, keep-alive) in this process.",
                "Every route's records are checked: each expected hash exactly once, nothing else.",
            ],
        ),
        "",
        "### Data set (loaded with COPY)",
        "",
        markdown_table(
            ["hashes", "count", "share"],
            [
                *(
                    (f"{m} {a}", feed.count((m, a)), f"{feed.count((m, a)) / total:.1%}")
                    for m, a in KINDS
                ),
                ("all, in cases", total, f"{feed.cases:,} cases"),
            ],
        ),
        "",
        "Cases: 80% hold 1-4 images (MD5 + PDQ each, PDQ quality 50-100), 20% one video MD5. "
        f"StopNCII serves ImagePDQ + VideoMD5 only: {sum(feed.count(k) for k in STOPNCII_KINDS):,}"
        " records. Load: " + ", ".join(f"{k} {v:.1f} s" for k, v in feed.seconds.items()) + ".",
        "",
        "### Sync",
        "",
        markdown_table(
            [
                "route",
                "page",
                "records",
                "pages",
                "wall s",
                "records/s",
                "MB",
                "vs StopNCII",
                "check",
            ],
            [
                (
                    r.route,
                    r.page_size or "stream",
                    r.records,
                    r.pages,
                    r.wall,
                    r.rate,
                    r.wire_bytes / 1e6 if r.wire_bytes else "",
                    f"{r.rate / stopncii.rate:.1f}×" if stopncii.rate else "",
                    "; ".join(r.problems) or "ok",
                )
                for r in runs
            ],
        ),
        "",
        "CPU seconds each party used during each sync, and records per CPU second of the "
        "server side (Haven + PostgreSQL backends): less sensitive to other tenants than "
        "wall time. 'others' = cores busy meanwhile with anything else (other tenants, "
        f"PostgreSQL upkeep), out of {machine.cpus}.",
        "",
        markdown_table(
            [
                "route",
                "server CPU s",
                "PostgreSQL CPU s",
                "client CPU s",
                "records per server-side CPU s",
                "others (cores)",
            ],
            [
                (
                    r.route,
                    r.cpu.get("server", 0.0),
                    r.cpu.get("postgres", 0.0),
                    r.cpu.get("client", 0.0),
                    r.records / ((r.cpu.get("server", 0.0) + r.cpu.get("postgres", 0.0)) or 1),
                    r.others,
                )
                for r in runs
            ],
        ),
        "",
        "### Goals",
        "",
        markdown_table(
            ["goal", "target", "measured", "met"],
            [
                (
                    "native full sync",
                    f"≥ {GOAL_NATIVE_RATE:,} hashes/s",
                    f"{native.rate:,.0f} hashes/s",
                    _yes(native.rate >= GOAL_NATIVE_RATE and not native.problems),
                ),
                (
                    "native vs StopNCII route (per record, threatexchange client)",
                    f"≥ {GOAL_NATIVE_OVER_STOPNCII:.0f}×",
                    f"{native.rate / stopncii.rate:.1f}×" if stopncii.rate else "n/a",
                    _yes(native.rate >= GOAL_NATIVE_OVER_STOPNCII * stopncii.rate),
                ),
                (
                    "native vs StopNCII route (per record, keep-alive + json.loads)",
                    f"≥ {GOAL_NATIVE_OVER_STOPNCII:.0f}×",
                    f"{native.rate / stopncii_raw.rate:.1f}×" if stopncii_raw.rate else "n/a",
                    _yes(native.rate >= GOAL_NATIVE_OVER_STOPNCII * stopncii_raw.rate),
                ),
            ],
        ),
        "",
        "### Where the time goes (ms per page, means)",
        "",
        markdown_table(
            [
                "route",
                "wall",
                "in-app (server log)",
                "gunicorn + transfer",
                "client: library call / parse",
                "client: check",
            ],
            [
                (
                    r.route,
                    r.wall / r.pages * 1000,
                    r.server / r.pages * 1000 if r.server else "",
                    (r.fetch - r.server) / r.pages * 1000 if r.server and r.parse else "",
                    (r.parse if r.parse else r.fetch - r.server) / r.pages * 1000,
                    r.verify / r.pages * 1000,
                )
                for r in runs[:3]
            ],
        ),
        "",
        "For the threatexchange client the library call includes its HTTP round trip (a new "
        "connection per page: it opens a `requests.Session` per call) and its dacite parsing; "
        "the column shows the call minus in-app time.",
        "",
        "### Server profile (in-process, Flask test client, same database)",
        "",
        profile,
    ]
    return "\n".join(parts)


def _yes(ok: bool) -> str:
    return "yes" if ok else "**no**"


if __name__ == "__main__":
    main()
