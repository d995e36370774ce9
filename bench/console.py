"""The officers' console in Debian's Chromium: actions and seconds to an alert submitted, and
the live audience count after an area change, at 10M subscriber locations.

Run from the repository root:  .venv/bin/python -m bench.console [--locations N]

What runs is the production path. A PostgreSQL database of the run's own (created, migrated
and dropped here) gets `--locations` subscriber locations clustered like population (the
points of bench.geo_audience: ZIP-centred clusters of Pareto sizes and 10% rural, 1 to 5
locations a subscriber) by binary COPY, and their subscribers (60% English, 30% Spanish,
the rest Chinese, Vietnamese and Tagalog) by one INSERT ... SELECT: the rows the importer
writes, with the `locations` counter at the last `seq`. `haven serve` (gunicorn) then loads
its audience index from the database as it does at start-up (timed until `/readyz`).
An agency (Illinois) and an officer are made with the service functions; the browser signs
in by the `haven_console` cookie of a session opened as the sign-in page opens one.

1. **From `/console/` to submitted.** A fresh browser context opens `/console/` and drafts
   an alert with one county (Cook County, by the typeahead) as an officer would: every click
   and every field typed counts as an action. Seconds are from opening `/console/` to the
   alert's page after **Submit for approval**; the median of `--flow-runs`. The script acts
   as fast as the page lets it: an officer's reading and typing come on top.
2. **Audience refresh.** On the drafting page (name, phone and Cook County filled in), the
   areas change `--changes` times: a circle added (typed point and radius, then **Add
   circle**), removed, a county added (typeahead), removed, in turn. Each is timed in the
   page's clock from the click to the DOM showing the new count ("Showing the count for
   change N."), split into the page's own 250 ms wait (docs/console.md) and the request.
   The count shown is checked against the plain client's count of the same areas.
   Baselines, interleaved with the changes in rounds: the same request bodies (as the
   browser sent them) to the same endpoint from a plain HTTP client (one keep-alive
   connection, no browser) and from the page's own `fetch()`, and `GET /healthz` from the
   page and from the plain client.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import http.client
import json
import os
import re
import secrets
import struct
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from playwright.sync_api import BrowserContext, Locator, Page, expect, sync_playwright

from bench.common import (
    CpuMeter,
    HavenServer,
    backend_pids,
    describe_machine,
    exit_on_sigterm,
    latency_summary,
    libpq_url,
    markdown_table,
    report_header,
    temporary_database,
)
from bench.geo_audience import population_points, subscribers_for
from tests.browser import launch_chromium

AGENCY = "Illinois State Police"
ILLINOIS = "017000"
LANGUAGES = {"en": 0.60, "es": 0.30, "zh": 0.04, "vi": 0.03, "tl": 0.03}
AREA_CODES = ("312", "773", "872", "630", "708", "847")
COPY_ROWS = 500_000
VIEWPORT = {"width": 1280, "height": 800}
WAIT_MS = 60_000
AUDIENCE = "/api/v1/areas/audience"
# The changes cycle through these: circles (lat, lon, km) inside Illinois, and counties.
CIRCLES = [
    (41.8781, -87.6298, 10.0),
    (41.7508, -88.1535, 5.0),
    (42.2711, -89.0940, 15.0),
    (39.7817, -89.6501, 8.0),
    (40.6936, -89.5890, 25.0),
    (41.5250, -88.0817, 3.0),
]
COUNTIES = [
    ("DuPage", "DuPage County, IL"),
    ("Lake", "Lake County, IL"),
    ("Will", "Will County, IL"),
]

# In the page: the time of every click (capture phase, when the change happens) and every
# text the live audience count shows, in the page's clock.
RECORDER = """
window.__lastClick = 0;
window.__events = [];
document.addEventListener("click", () => { window.__lastClick = performance.now(); }, true);
document.addEventListener("DOMContentLoaded", () => {
  const request = document.getElementById("audience-request");
  const total = document.getElementById("audience");
  if (!request || !total) return;
  new MutationObserver(() => {
    window.__events.push({ t: performance.now(), text: request.textContent,
                           total: total.textContent, click: window.__lastClick });
  }).observe(request, { childList: true, characterData: true, subtree: true });
});
"""

# In the page: each body POSTed with fetch() as the page's scripts do, then `GET /healthz`.
FETCH_TIMES = """
async ([url, bodies, healthz]) => {
  const token = document.querySelector('meta[name="csrf-token"]').content;
  const times = { audience: [], healthz: [] };
  for (const body of bodies) {
    const started = performance.now();
    const response = await fetch(url, { method: "POST", credentials: "same-origin",
      headers: { "X-CSRF-Token": token, Accept: "application/json",
                 "Content-Type": "application/json" }, body });
    await response.json();
    times.audience.push(performance.now() - started);
  }
  for (let i = 0; i < healthz; i++) {
    const started = performance.now();
    await (await fetch("/healthz")).text();
    times.healthz.push(performance.now() - started);
  }
  return times;
}
"""


# The data


def valid_exchanges() -> list[str]:
    """`+1NPANXX` prefixes Haven accepts as valid numbers (each holds 10,000 lines)."""
    from alerts.phones import to_e164

    found = []
    for area_code in AREA_CODES:
        for exchange in range(200, 1000):
            with contextlib.suppress(ValueError):
                found.append(to_e164(f"+1{area_code}{exchange:03d}0000")[:8])
    return found


def location_rows(ids: Any, subscribers: Any, lat: Any, lon: Any) -> bytes:
    """Rows (id, subscriber_id, lat, lon, active, seq) in PostgreSQL's binary COPY format."""
    row = np.dtype(
        [
            ("fields", ">i2"),
            ("id_len", ">i4"),
            ("id", ">i4"),
            ("subscriber_len", ">i4"),
            ("subscriber", ">i4"),
            ("lat_len", ">i4"),
            ("lat", ">f8"),
            ("lon_len", ">i4"),
            ("lon", ">f8"),
            ("active_len", ">i4"),
            ("active", "u1"),
            ("seq_len", ">i4"),
            ("seq", ">i8"),
        ]
    )
    table = np.empty(len(ids), dtype=row)
    table["fields"] = 6
    table["id_len"], table["subscriber_len"], table["active_len"] = 4, 4, 1
    table["lat_len"], table["lon_len"], table["seq_len"] = 8, 8, 8
    table["id"], table["seq"], table["subscriber"] = ids, ids, subscribers
    table["lat"], table["lon"], table["active"] = lat, lon, 1
    return table.tobytes()


def load_locations(database_url: str, count: int, seed: int) -> dict[str, float]:
    """Generate and store `count` locations and their subscribers; seconds of each step."""
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    lon, lat = population_points(rng, count)
    owners = subscribers_for(rng, count)
    # Subscriber ids from 1, in the order they first appear (as an import numbers them).
    _, first = np.unique(owners, return_index=True)
    order = np.argsort(first)
    renumber = np.empty(int(owners.max()) + 1, np.int64)
    renumber[order] = np.arange(1, len(order) + 1)
    subscriber_ids = renumber[owners]
    subscribers = len(order)
    exchanges = valid_exchanges()
    if subscribers > 10_000 * len(exchanges):
        raise SystemExit(f"more subscribers ({subscribers:,}) than phone numbers to give them")
    generated = time.perf_counter() - started
    started = time.perf_counter()
    codes = list(LANGUAGES)
    bounds = np.cumsum(list(LANGUAGES.values()))[:-1].tolist()
    with psycopg.connect(libpq_url(database_url)) as connection:
        connection.execute("SELECT setseed(%s)", (seed % 1000 / 1000,))
        # The importer's rows: active, not testers, a valid +1 number, a language drawn at
        # random by the shares of LANGUAGES.
        connection.execute(
            "INSERT INTO subscriber"
            " (id, phone, language, status, is_tester, created_at, language_seq)"
            " SELECT n, (%(exchanges)s::text[])[(n - 1) / 10000 + 1]"
            " || lpad(((n - 1) %% 10000)::text, 4, '0'),"
            " (%(codes)s::text[])[width_bucket(random(), %(bounds)s::float8[]) + 1],"
            " 'active', false, now(), n FROM generate_series(1, %(n)s) AS n",
            {"exchanges": exchanges, "codes": codes, "bounds": bounds, "n": subscribers},
        )
        connection.execute(  # each subscriber's language numbered as the migration numbers them
            "UPDATE haven_counter SET value = %(n)s WHERE name = 'subscriber_languages'",
            {"n": subscribers},
        )
        stored = time.perf_counter()
        # A bulk load as a restore does it: the secondary indexes are dropped and built again
        # after (the same definitions), and the foreign key is not checked row by row (the
        # rows are consistent by construction).
        indexes = connection.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'subscriber_location'"
            " AND indexname NOT IN (SELECT conname FROM pg_constraint)"
        ).fetchall()
        for name, _definition in indexes:
            connection.execute(f'DROP INDEX "{name}"')
        connection.execute("SET session_replication_role = replica")
        ids = np.arange(1, count + 1, dtype=np.int64)
        with connection.cursor().copy(
            "COPY subscriber_location (id, subscriber_id, lat, lon, active, seq)"
            " FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.write(b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0))
            for start in range(0, count, COPY_ROWS):
                part = slice(start, start + COPY_ROWS)
                copy.write(location_rows(ids[part], subscriber_ids[part], lat[part], lon[part]))
            copy.write(struct.pack(">h", -1))
        connection.execute("SET session_replication_role = DEFAULT")
        for _name, definition in indexes:
            connection.execute(definition)
        connection.execute(
            "SELECT setval(pg_get_serial_sequence('subscriber', 'id'), %(s)s),"
            " setval(pg_get_serial_sequence('subscriber_location', 'id'), %(n)s)",
            {"s": subscribers, "n": count},
        )
        connection.execute(
            "UPDATE haven_counter SET value = %(n)s WHERE name = 'locations'", {"n": count}
        )
    located = time.perf_counter()
    with psycopg.connect(libpq_url(database_url), autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE subscriber, subscriber_location")
    return {
        "subscribers": float(subscribers),
        "generated": generated,
        "subscribers_s": stored - started,
        "locations_s": located - stored,
        "vacuum_s": time.perf_counter() - located,
    }


def add_officer(database_url: str, secret_key: str) -> tuple[str, str, str]:
    """The agency (all of Illinois), a drafting officer, and a console session of theirs:
    (API key, session token, CSRF token)."""
    from alerts.service import add_agency
    from alerts.service import add_officer as add
    from haven.app import create_app
    from haven.db import get_session
    from haven.settings import Settings
    from tests.console.support import open_session

    app = create_app(
        Settings(database_url=database_url, secret_key=secret_key, audience_snapshot_dir=None)
    )
    with app.app_context():
        session = get_session()
        add_agency(session=session, name=AGENCY, same_codes=[ILLINOIS])
        _officer, key = add(session=session, agency_name=AGENCY, name="Drafter", approver=False)
    token, csrf = open_session(app, key)
    app.extensions["haven.db"].dispose()
    return key, token, csrf


# A plain client


class PlainClient:
    """One keep-alive HTTP connection to the server, signed in as the browser is."""

    def __init__(self, base_url: str, token: str, csrf: str) -> None:
        host, port = base_url.removeprefix("http://").split(":")
        self.address = (host, int(port))
        self.connection = http.client.HTTPConnection(host, int(port), timeout=120)
        self.headers = {
            "Cookie": f"haven_console={token}",
            "X-CSRF-Token": csrf,
            "Accept": "application/json",
            "Content-Type": "application/json",
        }

    def request(self, method: str, path: str, body: str | None = None) -> tuple[float, Any]:
        """Seconds to the whole answer, and the answer (JSON where it is JSON)."""
        started = time.perf_counter()
        self.connection.request(method, path, body=body, headers=self.headers)
        response = self.connection.getresponse()
        data = response.read()
        elapsed = time.perf_counter() - started
        if response.status != 200:
            raise RuntimeError(f"{method} {path}: {response.status} {data[:300]!r}")
        is_json = response.getheader("Content-Type", "").startswith("application/json")
        return elapsed, json.loads(data) if is_json else data

    def reconnect(self) -> None:
        """A new connection, opened by one untimed request (the server closes idle ones)."""
        self.connection.close()
        self.connection = http.client.HTTPConnection(*self.address, timeout=120)
        self.request("GET", "/healthz")

    def close(self) -> None:
        """Close the connection."""
        self.connection.close()


def wait_ready(base_url: str, timeout: float = 1800.0) -> float:
    """Seconds until `/readyz` answers 200 (the audience index loaded)."""
    started = time.perf_counter()
    host, port = base_url.removeprefix("http://").split(":")
    while time.perf_counter() - started < timeout:
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        try:
            connection.request("GET", "/readyz")
            if connection.getresponse().status == 200:
                return time.perf_counter() - started
        except OSError:
            pass
        finally:
            connection.close()
        time.sleep(0.5)
    raise RuntimeError(f"the server was not ready in {timeout:.0f} s")


# 1. From /console/ to submitted


@dataclass
class Actions:
    """Clicks and fields typed, counted as they are performed."""

    count: int = 0
    done: list[str] = field(default_factory=list)

    def click(self, locator: Locator, what: str) -> None:
        """Click, and count it."""
        locator.click()
        self.count += 1
        self.done.append(f"click {what}")

    def type(self, locator: Locator, text: str, what: str) -> None:
        """Fill a field, and count it."""
        locator.fill(text)
        self.count += 1
        self.done.append(f"type {what}")


def new_context(browser: Any, base_url: str, token: str) -> BrowserContext:
    """A fresh browser context (no cache) signed in by the session cookie."""
    context: BrowserContext = browser.new_context(viewport=VIEWPORT, base_url=base_url)
    context.add_cookies([{"name": "haven_console", "value": token, "url": base_url}])
    return context


def submit_flow(browser: Any, base_url: str, token: str) -> tuple[float, Actions, int]:
    """Open /console/, draft with Cook County, submit: (seconds, actions, alert id)."""
    context = new_context(browser, base_url, token)
    try:
        page = context.new_page()
        actions = Actions()
        started = time.perf_counter()
        page.goto("/console/")
        actions.click(page.get_by_role("link", name="New alert"), "New alert")
        expect(page.locator("#draft-form")).to_have_attribute("data-ready", "true")
        actions.type(page.locator("#f-children-0-name"), "Jane Doe", "the child's name")
        actions.type(page.locator("#place-input"), "Cook", "the county's first letters")
        actions.click(page.get_by_role("option", name="Cook County, IL"), "its suggestion")
        actions.type(page.locator("#f-contact_phone"), "312 555 0100", "the tip line")
        actions.click(page.get_by_role("button", name="Submit for approval"), "Submit")
        page.wait_for_url(re.compile(r".*/console/alerts/\d+$"), timeout=WAIT_MS)
        page.wait_for_load_state("load")
        seconds = time.perf_counter() - started
        return seconds, actions, int(page.url.rsplit("/", 1)[1])
    finally:
        context.close()


# 2. The audience refresh


@dataclass
class Refreshes:
    """Milliseconds per change and per baseline request."""

    kinds: list[str] = field(default_factory=list)
    total: list[float] = field(default_factory=list)
    waited: list[float] = field(default_factory=list)
    request: list[float] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    bodies: list[str] = field(default_factory=list)
    plain: list[float] = field(default_factory=list)
    plain_counts: list[int] = field(default_factory=list)
    plain_healthz: list[float] = field(default_factory=list)
    fetch: list[float] = field(default_factory=list)
    fetch_healthz: list[float] = field(default_factory=list)
    server_ms: list[float] = field(default_factory=list)


class DraftPage:
    """The drafting page, watched: the audience requests it sends and the counts it shows."""

    def __init__(self, browser: Any, base_url: str, token: str) -> None:
        self.context = new_context(browser, base_url, token)
        self.context.add_init_script(RECORDER)
        self.bodies: list[str] = []
        self.in_flight = 0
        self.context.on("request", self._sent)
        self.context.on("requestfinished", self._ended)
        self.context.on("requestfailed", self._ended)
        self.page: Page = self.context.new_page()
        self.page.goto("/console/alerts/new")
        expect(self.page.locator("#draft-form")).to_have_attribute("data-ready", "true")
        self.page.locator("#f-children-0-name").fill("Jane Doe")
        self.page.locator("#f-contact_phone").fill("312 555 0100")
        self.page.locator("#circle-panel summary").click()

    def _sent(self, request: Any) -> None:
        self.in_flight += 1
        if request.method == "POST" and request.url.endswith(AUDIENCE):
            self.bodies.append(request.post_data or "")

    def _ended(self, _request: Any) -> None:
        self.in_flight -= 1

    def change(self, act: Callable[[Page], None]) -> dict[str, Any]:
        """Make one area change with `act` and wait for its count: the times and the count."""
        page = self.page
        seen = page.evaluate("window.__events.length")
        bodies = len(self.bodies)
        act(page)
        page.wait_for_function(
            "(i) => window.__events.slice(i).some((e) => e.text.startsWith('Showing'))",
            arg=seen,
            timeout=WAIT_MS,
        )
        events = page.evaluate("(i) => window.__events.slice(i)", seen)
        shown = next(e for e in events if e["text"].startswith("Showing"))
        number = re.search(r"change (\d+)", shown["text"])
        assert number is not None
        asked = next(e for e in events if e["text"] == f"Counting change {number[1]}…")
        match = re.fullmatch(r"([\d,]+) subscribers in all", shown["total"])
        if match is None:
            raise RuntimeError(f"the page shows {shown['total']!r}")
        if len(self.bodies) <= bodies:
            raise RuntimeError("no audience request was seen for the change")
        self.quiet()
        return {
            "total": shown["t"] - shown["click"],
            "waited": asked["t"] - shown["click"],
            "request": shown["t"] - asked["t"],
            "count": int(match[1].replace(",", "")),
            "body": self.bodies[-1],
        }

    def quiet(self) -> None:
        """Wait until the page's other requests after a change (check, SMS preview) end."""
        self.page.wait_for_timeout(600)
        deadline = time.monotonic() + WAIT_MS / 1000
        while self.in_flight > 0 and time.monotonic() < deadline:
            self.page.wait_for_timeout(20)

    def close(self) -> None:
        """Close the page's context."""
        self.context.close()


def add_circle(lat: float, lon: float, km: float) -> Callable[[Page], None]:
    """Type a circle's centre and radius (no change yet), then Add circle (the change)."""

    def act(page: Page) -> None:
        page.locator("#circle-point").fill(f"{lat}, {lon}")
        page.locator("#circle-radius").fill(f"{km:g}")
        page.locator("#circle-add").click()

    return act


def add_county(typed: str, name: str) -> Callable[[Page], None]:
    """Type a county's first letters (no change yet), then choose it (the change)."""

    def act(page: Page) -> None:
        page.locator("#place-input").fill(typed)
        page.get_by_role("option", name=name, exact=True).click()

    return act


def remove_last(page: Page) -> None:
    """Remove the last area in the list (the change)."""
    page.locator(".area-item").last.get_by_role("button").click()


def measure_refreshes(
    browser: Any, server: HavenServer, token: str, csrf: str, changes: int, rounds: int
) -> Refreshes:
    """`changes` area changes in `rounds` rounds, each round followed by its baselines."""
    result = Refreshes()
    draft = DraftPage(browser, server.base_url, token)
    plain = PlainClient(server.base_url, token, csrf)
    try:
        draft.change(add_county("Cook", "Cook County, IL"))  # the base area; not counted
        # Not counted either: the first circle and county of a process build its indexes
        # (the counties a drawn area covers, the jurisdiction's land).
        for act in (add_circle(*CIRCLES[0]), remove_last, add_county(*COUNTIES[0]), remove_last):
            draft.change(act)
        plan: list[tuple[str, Callable[[Page], None]]] = []
        for n in range(changes):
            step = n % 4
            if step == 0:
                plan.append(("circle added", add_circle(*CIRCLES[(n // 4) % len(CIRCLES)])))
            elif step == 2:
                plan.append(("county added", add_county(*COUNTIES[(n // 4) % len(COUNTIES)])))
            else:
                plan.append(("area removed", remove_last))
        per_round = -(-changes // rounds)
        mark = server.log_offset()
        for start in range(0, changes, per_round):
            bodies = []
            for kind, act in plan[start : start + per_round]:
                timed = draft.change(act)
                result.kinds.append(kind)
                result.total.append(timed["total"])
                result.waited.append(timed["waited"])
                result.request.append(timed["request"])
                result.counts.append(timed["count"])
                bodies.append(timed["body"])
            result.bodies += bodies
            result.server_ms += [
                s * 1000 for s in server.server_times(path=AUDIENCE, method="POST", since=mark)
            ]
            plain.reconnect()
            for body in bodies:
                seconds, answer = plain.request("POST", AUDIENCE, body)
                result.plain.append(seconds * 1000)
                result.plain_counts.append(int(answer["subscribers"]))
                result.plain_healthz.append(plain.request("GET", "/healthz")[0] * 1000)
            times = draft.page.evaluate(FETCH_TIMES, [AUDIENCE, bodies, len(bodies)])
            result.fetch += times["audience"]
            result.fetch_healthz += times["healthz"]
            mark = server.log_offset()
    finally:
        plain.close()
        draft.close()
    return result


# The report


def main() -> None:
    """Load the data, start the server, run both measurements, print the report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--locations", type=int, default=10_000_000)
    parser.add_argument("--flow-runs", type=int, default=5)
    parser.add_argument("--changes", type=int, default=200, help="area changes timed")
    parser.add_argument("--rounds", type=int, default=10, help="baselines after each round")
    parser.add_argument("--seed", type=int, default=20240601)
    args = parser.parse_args()
    exit_on_sigterm()
    machine = describe_machine()
    load_before = os.getloadavg()
    secret_key = secrets.token_urlsafe(32)
    with contextlib.ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="haven-bench-")))
        database_url = stack.enter_context(temporary_database())
        print(f"loading {args.locations:,} locations ...", flush=True)
        loaded = load_locations(database_url, args.locations, args.seed)
        print(f"loaded: {loaded}", flush=True)
        _key, token, csrf = add_officer(database_url, secret_key)
        env = {
            "HAVEN_SECRET_KEY": secret_key,
            "HAVEN_PUBLIC_URL": "http://127.0.0.1",
            "HAVEN_AUDIENCE_SNAPSHOT_DIR": str(folder / "audience"),
        }
        started = time.perf_counter()
        server = stack.enter_context(
            HavenServer(database_url, workers=1, threads=4, env=env, ready_timeout=900)
        )
        ready_s = wait_ready(server.base_url) + time.perf_counter() - started
        print(f"ready in {ready_s:.1f} s", flush=True)
        first = PlainClient(server.base_url, token, csrf)
        cook = json.dumps({"areas": [{"same": "017031"}], "status": "Actual"})
        first_s, first_answer = first.request("POST", AUDIENCE, cook)
        first.close()
        playwright = stack.enter_context(sync_playwright())
        browser = launch_chromium(playwright)
        stack.callback(browser.close)
        flows = []
        for _ in range(args.flow_runs):
            flows.append(submit_flow(browser, server.base_url, token))
            print(f"flow: {flows[-1][0]:.2f} s, {flows[-1][1].count} actions", flush=True)
        meter = CpuMeter(
            {
                "Haven server (gunicorn)": server.pids(),
                "PostgreSQL backends of this database": lambda: backend_pids(database_url),
                "this process (the Playwright client)": [os.getpid()],
            }
        )
        meter.start()
        refreshes = measure_refreshes(
            browser, server, token, csrf, args.changes, max(1, args.rounds)
        )
        meter.stop()
        load_after = os.getloadavg()
        print_report(
            args,
            machine,
            loaded,
            ready_s,
            first_s,
            int(first_answer["subscribers"]),
            flows,
            refreshes,
            meter,
            (load_before, load_after),
        )


def print_report(
    args: argparse.Namespace,
    machine: Any,
    loaded: dict[str, float],
    ready_s: float,
    first_s: float,
    cook_subscribers: int,
    flows: list[tuple[float, Actions, int]],
    refreshes: Refreshes,
    meter: CpuMeter,
    loads: tuple[tuple[float, ...], tuple[float, ...]],
) -> None:
    """The report, in markdown."""
    load = "; ".join(", ".join(f"{v:.2f}" for v in values) for values in loads)
    print(
        report_header(
            f"Console benchmark, {datetime.date.today().isoformat()}",
            machine,
            [
                f"load average (1, 5, 15 min) at the start; at the end: {load}",
                f"data: {args.locations:,} locations of {int(loaded['subscribers']):,} "
                f"subscribers, generated in {loaded['generated']:.1f} s, subscribers stored "
                f"in {loaded['subscribers_s']:.1f} s, locations by binary COPY in "
                f"{loaded['locations_s']:.1f} s, VACUUM ANALYZE {loaded['vacuum_s']:.1f} s",
                f"`haven serve --workers 1 --threads 4`: `/readyz` {ready_s:.1f} s after "
                f"the start (audience index loaded); first count (Cook County, "
                f"{cook_subscribers:,} subscribers; loads the languages) {first_s:.2f} s",
            ],
        )
    )
    seconds = sorted(flow[0] for flow in flows)
    actions = {flow[1].count for flow in flows}
    print("\n### From /console/ to submitted (one county)\n")
    print(
        f"- actions: {', '.join(str(a) for a in sorted(actions))} "
        f"({'; '.join(flows[0][1].done)}); goal <= 12"
    )
    print(
        f"- seconds, {len(seconds)} runs: median {seconds[len(seconds) // 2]:.2f}, "
        f"min {seconds[0]:.2f}, max {seconds[-1]:.2f} (each run a fresh browser context)"
    )
    print("\n### Audience refresh after an area change\n")
    mismatched = sum(a != b for a, b in zip(refreshes.counts, refreshes.plain_counts, strict=True))
    kinds = {kind: refreshes.kinds.count(kind) for kind in dict.fromkeys(refreshes.kinds)}
    print(
        f"- {len(refreshes.total)} changes ({', '.join(f'{n} {k}' for k, n in kinds.items())}); "
        f"counts shown {min(refreshes.counts):,} to {max(refreshes.counts):,}; "
        f"{mismatched} differ from the plain client's count of the same areas\n"
    )
    rows = [
        ("browser: change to count shown (goal p99 <= 300 ms)", refreshes.total),
        ("  of which the page's wait before asking", refreshes.waited),
        ("  of which the request, to count shown", refreshes.request),
        ("baseline: same bodies, page's own fetch()", refreshes.fetch),
        ("baseline: same bodies, plain HTTP client", refreshes.plain),
        ("  in the server (access log)", refreshes.server_ms),
        ("baseline: GET /healthz, page's fetch()", refreshes.fetch_healthz),
        ("baseline: GET /healthz, plain HTTP client", refreshes.plain_healthz),
    ]
    plain_p50 = latency_summary([v / 1000 for v in refreshes.plain]).p50
    table = []
    for label, values in rows:
        summary = latency_summary([v / 1000 for v in values])
        table.append(
            (
                label,
                summary.count,
                round(summary.p50, 1),
                round(summary.p90, 1),
                round(summary.p99, 1),
                round(summary.max, 1),
                "" if label.startswith(" ") else f"{summary.p50 / plain_p50:.2f}×",
            )
        )
    print(
        markdown_table(
            ["ms", "n", "p50", "p90", "p99", "max", "p50 ÷ plain client"],
            table,
        )
    )
    print("\nCPU during the refresh measurement (seconds, cores busy on average):\n")
    print(
        markdown_table(
            ["processes", "CPU s", "cores"],
            [(label, round(s, 1), round(c, 2)) for label, s, c in meter.rows()],
        )
    )


if __name__ == "__main__":
    main()
