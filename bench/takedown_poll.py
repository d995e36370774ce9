"""Latency of an empty incremental feed poll, against `GET /healthz` as a baseline.

Run from the repository root:

    .venv/bin/python -m bench.takedown_poll [--requests 2000] [--hashes 100000]

Loads a feed (COPY, as bench.takedown_sync does) into a database of its own, serves it with
`haven serve`, then one client on loopback sends, in turn, `GET /healthz`, an empty poll
(`after=` the latest cursor) and the same poll with `If-None-Match` (answered 304), over one
keep-alive connection (http.client, so the client adds little). Warm-up rounds are not counted.
A short extra series opens a new connection for every poll. Prints a markdown report, stops
the server and drops the database.
"""

from __future__ import annotations

import argparse
import dataclasses
import http.client
import json
import time
from collections.abc import Mapping, Sequence

from bench.common import (
    HavenServer,
    LatencySummary,
    Machine,
    add_platform,
    describe_machine,
    exit_on_sigterm,
    latency_summary,
    markdown_table,
    percentile,
    report_header,
    temporary_database,
)
from bench.takedown_sync import load_feed

GOAL_P50_MS = 5.0
FEED = "/api/v1/feed/hashes"


@dataclasses.dataclass
class Series:
    """One kind of request: its client-side latencies and what came back."""

    name: str
    path: str
    status: int
    headers: dict[str, str]
    latencies: list[float] = dataclasses.field(default_factory=list)
    failures: int = 0

    def summary(self) -> LatencySummary:
        """Client-side latency percentiles."""
        return latency_summary(self.latencies)


def request(
    connection: http.client.HTTPConnection, path: str, headers: Mapping[str, str]
) -> tuple[int, bytes, float, http.client.HTTPResponse]:
    """Send one GET and read the whole answer; (status, body, seconds, response)."""
    started = time.perf_counter()
    connection.request("GET", path, headers=dict(headers))
    response = connection.getresponse()
    body = response.read()
    return response.status, body, time.perf_counter() - started, response


def run_rounds(
    connection: http.client.HTTPConnection,
    series: Sequence[Series],
    *,
    rounds: int,
    deadline: float,
    record: bool,
) -> None:
    """Send each series' request once per round, in turn, until `rounds` or `deadline`."""
    for _ in range(rounds):
        if time.monotonic() > deadline:
            break
        for s in series:
            status, _body, seconds, _response = request(connection, s.path, s.headers)
            if status != s.status:
                s.failures += 1
            elif record:
                s.latencies.append(seconds)


def run_fresh(base_port: int, s: Series, *, count: int, deadline: float) -> None:
    """Send `count` requests, each on a new connection (connect time included)."""
    for _ in range(count):
        if time.monotonic() > deadline:
            break
        started = time.perf_counter()
        connection = http.client.HTTPConnection("127.0.0.1", base_port, timeout=10)
        try:
            status, _body, _seconds, _response = request(connection, s.path, s.headers)
        finally:
            connection.close()
        if status == s.status:
            s.latencies.append(time.perf_counter() - started)
        else:
            s.failures += 1


def main() -> None:
    """Load a feed, measure the three requests, print the report; leave nothing behind."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000, help="measured rounds")
    parser.add_argument("--warmup", type=int, default=200, help="uncounted rounds first")
    parser.add_argument("--fresh", type=int, default=300, help="polls on new connections")
    parser.add_argument("--hashes", type=int, default=100_000, help="hashes in the feed")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--budget", type=float, default=40.0, help="seconds of requests, at most")
    args = parser.parse_args()
    exit_on_sigterm()

    machine = describe_machine()
    with temporary_database() as url:
        feed = load_feed(url, args.hashes)
        keys = add_platform(url, "bench-poll")
        auth = {"Authorization": f"Bearer {keys.api_key}"}
        poll_path = f"{FEED}?after={feed.last_cursor}&limit=1000"
        with HavenServer(url, workers=args.workers, threads=args.threads) as server:
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            status, body, _seconds, response = request(connection, poll_path, auth)
            page = json.loads(body)
            if status != 200 or page["changes"] or page["next"] != str(feed.last_cursor):
                raise RuntimeError(f"the poll is not empty: {status} {body[:200]!r}")
            etag = response.getheader("ETag") or ""
            health = Series("`GET /healthz` (baseline)", "/healthz", 200, {})
            poll = Series("empty poll, 200", poll_path, 200, auth)
            cached = Series(
                "empty poll, If-None-Match → 304", poll_path, 304, {**auth, "If-None-Match": etag}
            )
            series = [health, poll, cached]
            deadline = time.monotonic() + args.budget
            run_rounds(connection, series, rounds=args.warmup, deadline=deadline, record=False)
            mark = server.log_offset()
            started = time.monotonic()
            run_rounds(connection, series, rounds=args.requests, deadline=deadline, record=True)
            measured = time.monotonic() - started
            in_app = {
                health.name: server.server_times(path="/healthz", since=mark),
                poll.name: server.server_times(path=FEED, since=mark, status=200),
                cached.name: server.server_times(path=FEED, since=mark, status=304),
            }
            connection.close()
            fresh = Series("empty poll, new connection each", poll_path, 200, auth)
            run_fresh(server.port, fresh, count=args.fresh, deadline=deadline + 10)
        print(report(machine, args, [*series, fresh], in_app, measured, feed.last_cursor))


def report(
    machine: Machine,
    args: argparse.Namespace,
    series: Sequence[Series],
    in_app: Mapping[str, Sequence[float]],
    measured: float,
    last_cursor: int,
) -> str:
    """The markdown report."""
    baseline = series[0].summary()
    rows = []
    for s in series:
        summary = s.summary()
        app_ms = in_app.get(s.name)
        rows.append(
            (
                s.name,
                summary.count,
                s.failures,
                summary.p50,
                summary.p90,
                summary.p99,
                summary.max,
                _ratio(summary.p50, baseline.p50),
                percentile(sorted(app_ms), 50) * 1000 if app_ms else "",
            )
        )
    poll = series[1].summary()
    cached = series[2].summary()
    per_round = measured / max(1, series[0].summary().count) * 1000
    notes = [
        f"Server: `haven serve --workers {args.workers} --threads {args.threads}` (gunicorn "
        f"gthread) on 127.0.0.1; the feed holds {last_cursor:,} changes; the poll is "
        f"`GET {FEED}?after={last_cursor}&limit=1000` with a Bearer key.",
        f"Client: http.client, one keep-alive connection, strictly sequential; {args.warmup} "
        f"warm-up rounds, then rounds of healthz / poll / poll-304 in turn "
        f"({per_round:.1f} ms a round). 'in-app' is Haven's access-log time "
        "(before_request to after_request), without gunicorn and the socket.",
    ]
    goal = markdown_table(
        ["goal", "target", "measured", "met"],
        [
            (
                "empty poll p50",
                f"≤ {GOAL_P50_MS:.0f} ms",
                f"{poll.p50:.2f} ms",
                "yes" if poll.p50 <= GOAL_P50_MS else "**no**",
            ),
            (
                "empty poll with If-None-Match (304) p50",
                f"≤ {GOAL_P50_MS:.0f} ms",
                f"{cached.p50:.2f} ms",
                "yes" if cached.p50 <= GOAL_P50_MS else "**no**",
            ),
        ],
    )
    table = markdown_table(
        [
            "request",
            "n",
            "failed",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "max ms",
            "p50 / healthz",
            "in-app p50 ms",
        ],
        rows,
    )
    return "\n".join(
        [
            report_header("Take It Down: empty feed poll latency", machine, notes),
            "",
            table,
            "",
            goal,
        ]
    )


def _ratio(value: float, baseline: float) -> str:
    return f"{value / baseline:.2f}×" if baseline else ""


if __name__ == "__main__":
    main()
