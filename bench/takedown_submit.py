"""Sustained case submissions under an open-loop load, through the production server.

Run from the repository root:

    .venv/bin/python -m bench.takedown_submit [--rate 300] [--seconds 60] [--workers 2]

Serves a database of its own with `haven serve` (rate limits in Redis, as several processes
need, set high enough never to refuse), then POSTs cases to `/api/v1/takedown/cases` at a
constant arrival rate: request i is due at start + i/rate whatever happened to the earlier
ones (open loop, asyncio + aiohttp, bodies made in advance), and its latency counts from when
it was due, so queueing anywhere, the generator included, is in the figures. Each case holds
1-4 images (MD5 + PDQ each) or one video MD5, with random values. After the main run, shorter
steps look for the highest rate that still meets the goal. At the end every 201 is checked
against the database (nothing lost), the server is stopped, the Redis counters deleted and the
database dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import random
import secrets
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import aiohttp
import psycopg

from bench.common import (
    CpuMeter,
    HavenServer,
    Machine,
    WaitSampler,
    backend_pids,
    describe_machine,
    exit_on_sigterm,
    latency_summary,
    libpq_url,
    markdown_table,
    report_header,
    temporary_database,
)

PATH = "/api/v1/takedown/cases"
# The same-run baseline: the cheapest request the server answers, offered at the same rate,
# so the figures show what this machine's load costs any request before a case costs anything.
BASELINE_PATH = "/healthz"
GOAL_RATE = 300.0
GOAL_P99_MS = 100.0
REQUEST_TIMEOUT = 10.0
MAX_IN_FLIGHT = 512  # the generator's connection pool; more waiting requests queue in it
# A step stops early once more than this many seconds' worth of requests are unanswered: the
# server is not keeping up, and gunicorn would go on serving requests whose clients gave up.
BACKLOG_SECONDS = 2.0
VIDEO_CASE_SHARE = 0.2
IMAGES_PER_CASE = (1, 2, 3, 4)
IMAGES_WEIGHTS = (0.4, 0.3, 0.2, 0.1)
SERVER = "Haven server (gunicorn master + workers)"
GENERATOR = "load generator (this process)"
POSTGRES = "PostgreSQL backends of this database"


def make_bodies(count: int, rng: random.Random) -> list[tuple[bytes, int]]:
    """`count` JSON case bodies with random hashes, and how many hashes each holds."""
    bodies = []
    for _ in range(count):
        if rng.random() < VIDEO_CASE_SHARE:
            hashes: list[dict[str, Any]] = [
                {"media": "video", "algorithm": "md5", "value": rng.randbytes(16).hex()}
            ]
        else:
            hashes = []
            for _image in range(rng.choices(IMAGES_PER_CASE, IMAGES_WEIGHTS)[0]):
                hashes.append(
                    {"media": "image", "algorithm": "md5", "value": rng.randbytes(16).hex()}
                )
                hashes.append(
                    {
                        "media": "image",
                        "algorithm": "pdq",
                        "value": rng.randbytes(32).hex(),
                        "quality": rng.randint(50, 100),
                    }
                )
        bodies.append((json.dumps({"hashes": hashes}).encode(), len(hashes)))
    return bodies


@dataclasses.dataclass
class Step:
    """One constant-rate run and what came of it."""

    rate: float
    seconds: float
    sent: int = 0
    created: int = 0
    created_hashes: int = 0
    statuses: Counter[str] = dataclasses.field(default_factory=Counter)
    latencies: list[float] = dataclasses.field(default_factory=list)  # of the 201s
    case_numbers: list[str] = dataclasses.field(default_factory=list)
    late_sends: int = 0  # sent more than 5 ms after they were due (the generator fell behind)
    in_flight: int = 0
    stopped_after: float | None = None  # seconds, when the backlog grew past BACKLOG_SECONDS
    span: float = 0.0  # first due time to last answer
    cpu: list[tuple[str, float, float]] = dataclasses.field(default_factory=list)
    cpu_seconds: dict[str, float] = dataclasses.field(default_factory=dict)
    waits: list[tuple[str, str, float]] = dataclasses.field(default_factory=list)

    def cpu_ms_per_case(self, label: str) -> float:
        """CPU milliseconds `label` used per case answered (any answer, timeouts excluded)."""
        answered = sum(n for k, n in self.statuses.items() if k.isdigit())
        return self.cpu_seconds.get(label, 0.0) * 1000 / answered if answered else float("nan")

    @property
    def errors(self) -> int:
        """Answers other than 201, timeouts and connection failures."""
        return self.sent - self.created

    @property
    def achieved(self) -> float:
        """Cases created per second, from the first due time to the last answer."""
        return self.created / self.span if self.span else 0.0

    def meets(self, rate: float) -> bool:
        """Whether this step sustained `rate` within the latency goal and lost nothing."""
        p99 = latency_summary(self.latencies).p99
        complete = self.stopped_after is None and not self.errors
        return complete and self.achieved >= 0.97 * rate and p99 <= GOAL_P99_MS


async def _submit(
    session: aiohttp.ClientSession,
    url: str,
    body: bytes | None,
    hashes: int,
    due: float,
    step: Step,
) -> None:
    """POST one case (or, with no body, GET the baseline) and record the answer."""
    step.in_flight += 1
    try:
        request = (
            session.get(url)
            if body is None
            else session.post(url, data=body, headers={"Content-Type": "application/json"})
        )
        async with request as response:
            payload = await response.read()
            done = time.perf_counter()
            step.statuses[str(response.status)] += 1
            if response.status == (200 if body is None else 201):
                step.created += 1
                step.created_hashes += hashes
                step.latencies.append(done - due)
                if body is not None:
                    step.case_numbers.append(json.loads(payload)["case_number"])
    except (aiohttp.ClientError, TimeoutError) as exc:
        step.statuses[type(exc).__name__] += 1
    finally:
        step.in_flight -= 1


async def run_step(
    base_url: str,
    bodies: Sequence[tuple[bytes | None, int]],
    rate: float,
    seconds: float,
    path: str = PATH,
) -> Step:
    """Send `rate` × `seconds` cases at a constant rate; wait for every answer."""
    step = Step(rate, seconds)
    count = min(len(bodies), int(rate * seconds))
    backlog = max(50, int(rate * BACKLOG_SECONDS))
    connector = aiohttp.TCPConnector(limit=MAX_IN_FLIGHT, force_close=False)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    url = base_url + path
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        tasks = []
        start = time.perf_counter() + 0.05
        for i in range(count):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -0.005:
                step.late_sends += 1
            if step.in_flight > backlog:
                step.stopped_after = time.perf_counter() - start
                break
            body, hashes = bodies[i]
            tasks.append(asyncio.create_task(_submit(session, url, body, hashes, due, step)))
        step.sent = len(tasks)
        await asyncio.gather(*tasks)
        step.span = time.perf_counter() - start
    return step


def measure(
    server: HavenServer,
    url: str,
    bodies: Sequence[tuple[bytes | None, int]],
    rate: float,
    seconds: float,
    path: str = PATH,
) -> Step:
    """One step, with the CPU each party used during it."""
    meter = CpuMeter(
        {
            SERVER: server.pids(),
            GENERATOR: [os.getpid()],
            POSTGRES: lambda: backend_pids(url),
        }
    )
    meter.start()
    with WaitSampler(url) as waits:
        step = asyncio.run(run_step(server.base_url, bodies, rate, seconds, path))
    meter.stop()
    step.waits = waits.shares()
    step.cpu = meter.rows()
    step.cpu_seconds = dict(meter.seconds)
    return step


def check_database(url: str, steps: Sequence[Step]) -> dict[str, int]:
    """What the database holds, against what the 201s said."""
    numbers = {n.replace("-", "") for s in steps for n in s.case_numbers}
    with psycopg.connect(libpq_url(url)) as connection:
        stored = {row[0] for row in connection.execute("SELECT number FROM takedown_case")}
        row = connection.execute(
            "SELECT (SELECT count(*) FROM takedown_case), (SELECT count(*) FROM takedown_hash),"
            " (SELECT count(*) FROM takedown_feed_change),"
            " (SELECT count(*) FROM takedown_feed_pending),"
            " (SELECT count(*) FROM takedown_hash WHERE status = 'pending')"
        ).fetchone()
    cases, hashes, changes, queued, uncursored = row if row else (0, 0, 0, 0, 0)
    return {
        "cases sent (warm-up included)": sum(s.sent for s in steps),
        "answers other than 201 (timeouts included)": sum(s.errors for s in steps),
        "201s received": sum(s.created for s in steps),
        "rows in takedown_case": cases,
        "201 case numbers not in the database (lost)": len(numbers - stored),
        "hashes in 201s": sum(s.created_hashes for s in steps),
        "rows in takedown_hash": hashes,
        "rows in takedown_feed_change": changes,
        "cases still queued for the sequencer (takedown_feed_pending)": queued,
        "hashes still without a feed cursor": uncursored,
    }


def forget_counters(redis_url: str, secret: str) -> int:
    """Delete this run's rate-limit counters from Redis; returns how many there were."""
    import redis

    from haven.ratelimit import Throttle

    pseudonym = Throttle("memory://", secret).pseudonym("127.0.0.1")
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(f"LIMITS:*{pseudonym}*", count=1000))
        if keys:
            client.delete(*keys)
        return len(keys)
    finally:
        client.close()


def main() -> None:
    """Warm up, run the main step, look for the ceiling, check the database, report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=GOAL_RATE, help="cases/s of the main run")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the main run")
    parser.add_argument("--step-seconds", type=float, default=15.0)
    parser.add_argument(
        "--baseline-seconds", type=float, default=15.0, help="GET /healthz at --rate, first"
    )
    parser.add_argument("--max-steps", type=int, default=4, help="extra steps after the main run")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0", help="'' for memory")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    exit_on_sigterm()

    rng = random.Random(args.seed)
    machine = describe_machine()
    secret = secrets.token_urlsafe(32)
    env = {
        "HAVEN_SECRET_KEY": secret,
        "HAVEN_CASE_SUBMIT_RATE": "1000000/minute",
        "HAVEN_CASE_LOOKUP_RATE": "1000000/minute",
        "HAVEN_LOG_LEVEL": "INFO",
    }
    if args.redis_url:
        env["HAVEN_REDIS_URL"] = args.redis_url
    steps: list[Step] = []
    try:
        with temporary_database() as url:
            # A busy machine can take a minute or more to boot the workers.
            with HavenServer(
                url, workers=args.workers, threads=args.threads, env=env, ready_timeout=240
            ) as server:
                # Connections, pools and caches; checked against the database, not reported.
                warmup = measure(server, url, make_bodies(250, rng), 50, 5)
                wait_idle(server)
                baseline_count = int(args.rate * args.baseline_seconds)
                baseline = measure(
                    server,
                    url,
                    [(None, 0)] * baseline_count,
                    args.rate,
                    args.baseline_seconds,
                    path=BASELINE_PATH,
                )
                wait_idle(server)
                main_step = measure(
                    server,
                    url,
                    make_bodies(int(args.rate * args.seconds), rng),
                    args.rate,
                    args.seconds,
                )
                steps.append(main_step)
                steps += ladder(server, url, rng, args, main_step)
                log_statuses = server.status_counts()
            database = check_database(url, [warmup, *steps])
    finally:
        if args.redis_url:
            forget_counters(args.redis_url, secret)
    print(report(machine, args, steps, database, log_statuses, baseline))


def ladder(
    server: HavenServer, url: str, rng: random.Random, args: argparse.Namespace, main_step: Step
) -> list[Step]:
    """Shorter steps looking for the highest rate that meets the goal.

    After a main run that met it, go up by 25% a step until a step fails. After one that did
    not, start just below the rate the server managed (or 80% of the target), then go up by 15%
    after a pass and down by 15% after a failure.
    """
    steps: list[Step] = []
    if main_step.meets(args.rate):
        rate, up_factor, down_factor = args.rate * 1.25, 1.25, 0.0
    else:
        rate = max(10.0, min(0.8 * args.rate, 0.9 * main_step.achieved))
        up_factor, down_factor = 1.15, 0.85
    for _ in range(args.max_steps):
        wait_idle(server)  # an overloaded step leaves queued requests behind
        step = measure(
            server, url, make_bodies(int(rate * args.step_seconds), rng), rate, args.step_seconds
        )
        steps.append(step)
        if step.meets(rate):
            rate *= up_factor
        elif down_factor:
            rate *= down_factor
        else:
            break
    return steps


def wait_idle(server: HavenServer, *, limit: float = 60.0) -> None:
    """Wait until the server has logged no request for 1.5 s (at most `limit` seconds)."""
    deadline = time.monotonic() + limit
    seen, quiet_since = -1, time.monotonic()
    while time.monotonic() < deadline:
        count = sum(server.status_counts().values())
        if count != seen:
            seen, quiet_since = count, time.monotonic()
        elif time.monotonic() - quiet_since >= 1.5:
            return
        time.sleep(0.25)


def ceiling(steps: Sequence[Step]) -> str:
    """The rate the CPU cost per case allows on this machine's cores, were they all ours."""
    per_case = [
        sum(s.cpu_ms_per_case(label) for label in (SERVER, POSTGRES, GENERATOR))
        for s in steps
        if s.created
    ]
    if not per_case:
        return ""
    cost = sorted(per_case)[len(per_case) // 2]
    cores = os.cpu_count() or 1
    return (
        f"CPU per case (median over steps, server + PostgreSQL backends + generator): "
        f"{cost:.1f} ms, so {cores} idle cores could serve at most ~{cores * 1000 / cost:.0f} "
        f"cases/s; the goal ({GOAL_RATE:.0f}/s) needs at most {cores * 1000 / GOAL_RATE:.1f} ms "
        "a case, before PostgreSQL's own background work and any other tenant."
    )


def report(
    machine: Machine,
    args: argparse.Namespace,
    steps: Sequence[Step],
    database: dict[str, int],
    log_statuses: dict[str, int],
    baseline: Step,
) -> str:
    """The markdown report."""
    rows = []
    for step in [baseline, *steps]:
        summary = latency_summary(step.latencies)
        rows.append(
            (
                ("baseline `GET /healthz`: " if step is baseline else "")
                + f"{step.rate:.0f}/s for {step.seconds:.0f} s"
                + (
                    f" (stopped at {step.stopped_after:.1f} s: "
                    f"backlog over {BACKLOG_SECONDS:.0f} s)"
                    if step.stopped_after is not None
                    else ""
                ),
                step.sent,
                step.achieved,
                summary.p50,
                summary.p90,
                summary.p99,
                summary.max,
                step.errors,
                ", ".join(f"{k}: {v}" for k, v in sorted(step.statuses.items())),
                step.late_sends,
                step.cpu_ms_per_case(SERVER),
                step.cpu_ms_per_case(POSTGRES),
                "yes" if step.meets(step.rate) else "**no**",
            )
        )
    main_step = steps[0]
    main_summary = latency_summary(main_step.latencies)
    baseline_summary = latency_summary(baseline.latencies)
    sustained = [s.rate for s in steps if s.meets(s.rate)]
    lost = database["201 case numbers not in the database (lost)"]
    unanswered = database["rows in takedown_case"] - database["201s received"]
    notes = [
        f"Server: `haven serve --workers {args.workers} --threads {args.threads}` (gunicorn "
        "gthread) on 127.0.0.1; rate limits "
        + ("in Redis" if args.redis_url else "in memory")
        + " (1,000,000/minute, never reached); PostgreSQL and the generator on the same "
        "2 cores.",
        "Generator: open loop, constant arrival rate (asyncio + aiohttp, one process, up to "
        f"{MAX_IN_FLIGHT} connections, {REQUEST_TIMEOUT:.0f} s timeout); latency counts from "
        "when a request was due. 'late sends' = requests sent > 5 ms after they were due.",
        "Cases: 80% hold 1-4 images (MD5 + PDQ, quality 50-100), 20% one video MD5; all "
        "hashes random, so every hash is new to the feed. Each submission hashes its PIN with "
        "Argon2id on purpose. A 5 s warm-up at 50/s is not counted.",
    ]
    parts = [
        report_header("Take It Down: case submissions, open loop", machine, notes),
        "",
        markdown_table(
            [
                "step",
                "sent",
                "achieved/s",
                "p50 ms",
                "p90 ms",
                "p99 ms",
                "max ms",
                "errors",
                "answers",
                "late sends",
                "server CPU ms/case",
                "PostgreSQL CPU ms/case",
                "goal met",
            ],
            rows,
        ),
        "",
        "### Goal",
        "",
        markdown_table(
            ["goal", "target", "measured", "met"],
            [
                (
                    f"sustained rate for {args.seconds:.0f} s",
                    f"≥ {GOAL_RATE:.0f} cases/s",
                    f"{main_step.achieved:.0f} cases/s"
                    + (
                        f" until stopped at {main_step.stopped_after:.1f} s"
                        if main_step.stopped_after is not None
                        else ""
                    ),
                    "yes" if main_step.meets(GOAL_RATE) else "**no**",
                ),
                (
                    "p99 latency",
                    f"≤ {GOAL_P99_MS:.0f} ms",
                    f"{main_summary.p99:.1f} ms",
                    "yes" if main_summary.p99 <= GOAL_P99_MS else "**no**",
                ),
                (
                    "nothing lost (201s vs rows)",
                    "0 lost",
                    f"{lost} lost, {main_step.errors} errors",
                    "yes" if lost == 0 and not main_step.errors else "**no**",
                ),
                (
                    f"same-run baseline, `GET /healthz` at {baseline.rate:.0f}/s",
                    "",
                    f"{baseline.achieved:.0f}/s, p50 {baseline_summary.p50:.1f} ms, "
                    f"p99 {baseline_summary.p99:.1f} ms",
                    "",
                ),
                (
                    "highest rate meeting the goal (steps)",
                    "",
                    f"{max(sustained):.0f} cases/s" if sustained else "none",
                    "",
                ),
            ],
        ),
        "",
        "### Nothing lost",
        "",
        markdown_table(["check", "value"], list(database.items())),
        "",
        f"Stored without a 201 reaching the client (the client gave up after "
        f"{REQUEST_TIMEOUT:.0f} s, the server finished anyway): {unanswered:,}.",
        "",
        "Statuses in the server's access log (all runs, warm-up included): "
        + ", ".join(f"{k}: {v}" for k, v in sorted(log_statuses.items())),
        "",
        f"### CPU during the main run ({main_step.rate:.0f}/s)",
        "",
        markdown_table(["process", "CPU s", "cores"], main_step.cpu),
        "",
        ceiling(steps),
        "",
        "What this database's backends were doing during the main run (sampled every 50 ms; "
        "'Lock:advisory' = queued for the feed lock, takedown.store.lock_feed; 'idle in "
        "transaction' = a transaction waiting for its Haven thread):",
        "",
        markdown_table(
            ["state", "wait event", "share of samples"],
            [(state, event, f"{share:.0%}") for state, event, share in main_step.waits[:6]],
        ),
    ]
    return "\n".join(parts)


if __name__ == "__main__":
    main()
