"""One AMBER alert to 1,000,000 subscribers: Celery workers, Redis, PostgreSQL, the real client.

Run from the repository root:

    .venv/bin/python -m bench.dispatch [--subscribers 1000000] [--workers 2] [--concurrency 8]
        [--batch 500] [--senders 4] [--in-flight 64] [--max-minutes 15] [--profile]
        [--fail-after N]

`--workers`, `--concurrency`, `--batch`, `--senders` and `--in-flight` take comma-separated
lists; every combination runs in turn on the same subscribers (the delivery table is emptied
in between).

What runs is the production path. A database of its own (haven_bench_<random>) gets the
subscribers by COPY, all inside Cook County, IL (the rows `alerts.store.add_subscribers` and
`add_locations` would write, with the `locations` counter set to the last `seq`). An agency
and two officers come from the `haven` CLI. `haven serve` takes the draft, submit and approve
calls with `HAVEN_BROKER_URL` set, so approval writes the outbox row and enqueues the record
task; `haven worker` processes (Celery, thread pool, the first with beat) record the
deliveries and send them, many in flight, through `TwilioSmsProvider.send_sms_async` to
`LeanFakeTwilio` (tests/fakes/twilio_lean.py), a lean asyncio Twilio Messages API in a process
of its own, with `HAVEN_SMS_RATE_PER_SECOND` high enough never to wait.

Baseline in the same run: three client paths sending to the same fake with no database: the
twilio client blocking in threads, the twilio client's own async path (`create_async`), and
Haven's async path (from one process, and from as many as there are workers), so Haven's rate
reads as a share of its client's own ceiling on this machine. Goal: 2,000 messages/s (1M in
8.5 min), the first SMS within 2 s of approval.

`--fail-after N`: the fake answers HTTP 500 to every message after the N-th, as a provider
failing part-way; the run then reports when the failures began, how many messages were lost
(recipients never reached) and, when `make_sms_provider` builds a failover of two providers
(alerts/failover.py, with the second provider's settings in the environment), when the other
took over. With Twilio alone, nothing more can be delivered: the run stops at `--max-minutes`.

Each run stops after `--max-minutes` and reports its partial rate. `--profile` samples one
worker with py-spy (`pip install py-spy`) while it sends. At the end the workers, the fake and
the server are stopped, the Redis keys of the run deleted and the database dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime
import io
import itertools
import json
import multiprocessing
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import warnings
from collections import Counter
from collections.abc import Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import IO, Any

import numpy as np
import psycopg
import redis
import shapely

from bench.common import (
    HAVEN,
    ROOT,
    CpuMeter,
    HavenServer,
    WaitSampler,
    backend_pids,
    child_pids,
    describe_machine,
    exit_on_sigterm,
    haven_environment,
    libpq_url,
    markdown_table,
    process_cpu_seconds,
    report_header,
    temporary_database,
)

GOAL_RATE = 2_000.0  # messages/s: 1,000,000 in 8.5 minutes
COOK_COUNTY = "017031"
AGENCY = "Cook County Sheriff"
FROM_NUMBER = "+15005550006"
PUBLIC_URL = "https://haven.example.org"  # only appears in the messages' links
# What Haven sends for the draft below in English (294 characters, two segments); the
# baseline run after the dispatches uses the body that actually arrived.
BODY = (
    "AMBER Alert (Cook County Sheriff)\nMissing: Jane Doe, age 7\nVehicle: blue Ford Focus "
    "IL ABC1234\nLast seen 2026-11-22 12:30 at Millennium Park, Chicago\nChild: brown hair, "
    "red jacket\nSuspect: white male, 40s, grey hoodie\nCall 911 with any information. "
    "Info: +18005551234\nhttps://haven.example.org/a/1"
)
LANGUAGES = {"en": 0.60, "es": 0.30, "zh": 0.04, "vi": 0.03, "tl": 0.03}
NULL = "\\N"  # COPY's text format
COPY_CHUNK = 50_000
POLL_SECONDS = 0.5
PROFILE_SECONDS = 30.0
READY_SECONDS = 300.0  # a worker builds or maps the audience index of 1M before it is ready
# Seconds a step waits for its workers to finish their tasks before killing them.
STOP_SECONDS = 30.0
WORKERS = "Celery workers (and beat)"
POSTGRES = "PostgreSQL backends of this database"
REDIS = "Redis server"
FAKE = "fake Twilio (own process)"
SERVER = "Haven server (gunicorn)"
MONITOR = "this process (monitor)"


# The subscribers


def valid_exchanges(area_code: str = "312") -> list[str]:
    """NPA-NXX prefixes Haven accepts as valid NANP numbers (each holds 10,000 lines)."""
    from alerts.phones import to_e164

    found = []
    for exchange in range(200, 1000):
        with contextlib.suppress(ValueError):
            found.append(to_e164(f"+1{area_code}{exchange:03d}0000")[:8])
    return found


def phones(count: int) -> list[str]:
    """`count` distinct valid +1312 numbers."""
    prefixes = valid_exchanges()
    if count > len(prefixes) * 10_000:
        raise SystemExit(f"at most {len(prefixes) * 10_000:,} subscribers fit in area code 312")
    return [f"{prefixes[n // 10_000]}{n % 10_000:04d}" for n in range(count)]


def cook_county_points(rng: np.random.Generator, count: int) -> tuple[Any, Any]:
    """(lon, lat) of `count` points inside Cook County, in Gaussian clusters of Pareto sizes
    around 60 centres (a city and its suburbs, not a uniform spread)."""
    from geo.same import same_geometry

    county = same_geometry(COOK_COUNTY)
    shapely.prepare(county)
    xmin, ymin, xmax, ymax = county.bounds
    centres_lon, centres_lat = np.empty(0), np.empty(0)
    while len(centres_lon) < 60:
        x, y = rng.uniform(xmin, xmax, 200), rng.uniform(ymin, ymax, 200)
        keep = shapely.contains_xy(county, x, y)
        centres_lon, centres_lat = np.append(centres_lon, x[keep]), np.append(centres_lat, y[keep])
    centres_lon, centres_lat = centres_lon[:60], centres_lat[:60]
    weight = np.minimum(rng.pareto(1.1, 60) + 1.0, 50.0)
    spread_km = rng.lognormal(np.log(2.0), 0.5, 60)
    lon, lat = np.empty(0), np.empty(0)
    while len(lon) < count:
        want = 2 * (count - len(lon)) + 1000
        centre = rng.choice(60, size=want, p=weight / weight.sum())
        y = centres_lat[centre] + rng.normal(0.0, 1.0, want) * spread_km[centre] / 111.0
        x = centres_lon[centre] + rng.normal(0.0, 1.0, want) * spread_km[centre] / (
            111.0 * np.cos(np.radians(y))
        )
        # Stored with 6 decimals (about 0.1 m): keep the points inside as they are stored.
        x, y = np.round(x, 6), np.round(y, 6)
        keep = shapely.contains_xy(county, x, y)
        lon, lat = np.concatenate([lon, x[keep]]), np.concatenate([lat, y[keep]])
    return lon[:count], lat[:count]


def load_subscribers(database_url: str, count: int, seed: int) -> float:
    """COPY `count` subscribers with one Cook County location each; returns the seconds taken.

    The rows are those the importer writes: active, not testers; each location numbered
    (`seq`) and the `locations` counter left at the last number, as `add_locations` does.
    """
    rng = np.random.default_rng(seed)
    numbers = phones(count)
    lon, lat = cook_county_points(rng, count)
    codes = list(LANGUAGES)
    language = rng.choice(len(codes), size=count, p=list(LANGUAGES.values()))
    now = datetime.datetime.now(datetime.UTC).isoformat()
    started = time.perf_counter()
    with psycopg.connect(libpq_url(database_url)) as connection:
        with connection.cursor().copy(
            "COPY subscriber (id, phone, language, status, is_tester, created_at, language_seq)"
            " FROM STDIN"
        ) as copy:
            for start in range(0, count, COPY_CHUNK):
                copy.write(
                    "".join(
                        f"{n + 1}\t{numbers[n]}\t{codes[language[n]]}\tactive\tf\t{now}\t{n + 1}\n"
                        for n in range(start, min(count, start + COPY_CHUNK))
                    )
                )
        with connection.cursor().copy(
            "COPY subscriber_location (id, subscriber_id, lat, lon, zip, active, seq) FROM STDIN"
        ) as copy:
            for start in range(0, count, COPY_CHUNK):
                copy.write(
                    "".join(
                        f"{n + 1}\t{n + 1}\t{lat[n]:.6f}\t{lon[n]:.6f}\t{NULL}\tt\t{n + 1}\n"
                        for n in range(start, min(count, start + COPY_CHUNK))
                    )
                )
        connection.execute(
            "SELECT setval(pg_get_serial_sequence('subscriber', 'id'), %(n)s),"
            " setval(pg_get_serial_sequence('subscriber_location', 'id'), %(n)s)",
            {"n": count},
        )
        connection.execute(
            "UPDATE haven_counter SET value = (SELECT max(seq) FROM subscriber_location)"
            " WHERE name = 'locations'"
        )
        connection.execute(  # each subscriber's language numbered as the migration numbers them
            "UPDATE haven_counter SET value = %(n)s WHERE name = 'subscriber_languages'",
            {"n": count},
        )
    with psycopg.connect(libpq_url(database_url), autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE subscriber, subscriber_location")
    return time.perf_counter() - started


# The fake Twilio, in a process of its own


def _serve_fake(connection: Connection) -> None:
    """The fake's process: serve until told to stop, answering the parent's questions."""
    from tests.fakes.twilio_lean import LeanFakeTwilio

    with LeanFakeTwilio() as fake:
        connection.send((fake.url, fake.account_sid, fake.auth_token))
        while True:
            command = connection.recv()
            if command == "count":
                connection.send(len(fake.recipients))
            elif command == "first":
                connection.send(
                    (fake.received[0], fake.first_body) if fake.recipients else (None, "")
                )
            elif command == "summary":
                count = len(fake.recipients)  # the loop thread may append meanwhile
                recipients = Counter(fake.recipients[:count])
                connection.send(
                    {
                        "requests": fake.requests,
                        "accepted": count,
                        "unique": len(recipients),
                        "duplicates": count - len(recipients),
                        "received": np.sort(np.asarray(fake.received[:count], dtype=float)),
                        "recipients": set(recipients),
                        "connections": fake.connections,
                    }
                )
                del recipients
            elif isinstance(command, tuple) and command[0] == "fail_after":
                fake.fail_after = command[1]
                connection.send(None)
            else:
                connection.send(None)
                return


class FakeTwilioProcess:
    """`LeanFakeTwilio` in a spawned process (its own GIL), stopped on exit."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._connection, child = context.Pipe()
        self.process = context.Process(target=_serve_fake, args=(child,), daemon=True)
        self.url = self.account_sid = self.auth_token = ""

    def __enter__(self) -> FakeTwilioProcess:
        self.process.start()
        self.url, self.account_sid, self.auth_token = self._connection.recv()
        return self

    def __exit__(self, *_exc: object) -> None:
        with contextlib.suppress(OSError, EOFError):
            self._connection.send("stop")
            self._connection.recv()
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(10)

    @property
    def pid(self) -> int:
        """The fake's process id."""
        return int(self.process.pid or 0)

    def ask(self, command: str) -> Any:
        """Send a command ('count', 'first', 'summary') and return the answer."""
        self._connection.send(command)
        return self._connection.recv()


def _serve_vonage(connection: Connection) -> None:
    """The second provider's fake (alerts/vonage.py's FakeVonage) in a process of its own."""
    from tests.fakes.vonage_server import FakeVonage

    with FakeVonage() as fake:
        settings = fake.settings()
        env = {
            "VONAGE_API_KEY": str(settings["vonage_api_key"]),
            "VONAGE_API_SECRET": str(settings["vonage_api_secret"]),
            "VONAGE_SIGNATURE_SECRET": str(settings["vonage_signature_secret"]),
            "HAVEN_VONAGE_SIGNATURE_METHOD": str(settings["vonage_signature_method"]),
            "VONAGE_FROM": str(settings["vonage_from"]),
            "HAVEN_VONAGE_REST_HOST": str(settings["vonage_rest_host"]),
            "HAVEN_VONAGE_CA_BUNDLE": str(settings["vonage_ca_bundle"]),
        }
        connection.send(env)
        while True:
            command = connection.recv()
            if command == "count":
                connection.send(len(fake.messages))
            elif command == "summary":
                messages = fake.messages
                connection.send(
                    (
                        ["+" + m.to.lstrip("+") for m in messages],
                        np.sort(np.asarray([m.received_at for m in messages], dtype=float)),
                    )
                )
            else:
                connection.send(None)
                return


class FakeVonageProcess:
    """FakeVonage in a spawned process; `env` points Haven's Vonage client at it."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._connection, child = context.Pipe()
        self.process = context.Process(target=_serve_vonage, args=(child,), daemon=True)
        self.env: dict[str, str] = {}

    def __enter__(self) -> FakeVonageProcess:
        self.process.start()
        self.env = self._connection.recv()
        return self

    def __exit__(self, *_exc: object) -> None:
        with contextlib.suppress(OSError, EOFError):
            self._connection.send("stop")
            self._connection.recv()
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()

    def ask(self, command: str) -> Any:
        """Send a command ('count', 'summary') and return the answer."""
        self._connection.send(command)
        return self._connection.recv()


def _failover_figures(
    outcome: Outcome,
    summary: dict[str, Any],
    other: FakeVonageProcess | None,
    approved: float,
    fail_after: int,
) -> None:
    """When provider A began failing, when B took over, and who was reached by neither."""
    received = summary["received"]
    if len(received) >= fail_after:
        outcome.failing_from = float(received[fail_after - 1] - approved)
    reached = set(summary["recipients"])
    if other is not None:
        recipients, times = other.ask("summary")
        outcome.other_sent = len(recipients)
        reached |= set(recipients)
        outcome.duplicates += len(recipients) - len(set(recipients))
        outcome.duplicates += len(set(recipients) & set(summary["recipients"]))
        after = times[times - approved > (outcome.failing_from or 0.0)]
        if len(after):
            outcome.shifted_at = float(after[0] - approved)
    outcome.lost = outcome.expected - len(reached)


# The baseline: the client alone


# The three client paths measured alone: Haven's choice is the last.
BLOCKING = "twilio client, blocking (threads)"
TWILIO_ASYNC = "twilio client, create_async (AsyncTwilioHttpClient)"
HAVEN_ASYNC = "Haven's send_sms_async (aiohttp, Messages endpoint only)"
WARM_UP = 300  # messages each client sends before it is measured (imports, connections)


@dataclasses.dataclass(frozen=True)
class Ceiling:
    """One client path sending to the fake with no database."""

    when: str  # before or after the dispatches
    client: str
    processes: int
    threads: int  # threads (blocking) or messages in flight (async) per process
    messages: int
    seconds: float
    client_cpu: float
    fake_cpu: float

    @property
    def rate(self) -> float:
        """Messages per second."""
        return self.messages / self.seconds


def _send_many(
    client: str,
    url: str,
    sid: str,
    token: str,
    body: str,
    count: int,
    threads: int,
    offset: int,
    out: Any = None,
) -> tuple[float, float]:
    """Send WARM_UP messages, then `count` measured: (seconds, CPU seconds of this process).
    Blocking: `threads` threads sharing one provider (a client per thread, as Haven did).
    Async: `threads` messages in flight on one event loop."""
    from alerts.providers import TwilioSmsProvider

    provider = TwilioSmsProvider(sid, token, from_number=FROM_NUMBER, api_base=url)
    callback = f"{PUBLIC_URL}/webhooks/twilio/status"
    failed: list[str] = []
    loop = asyncio.new_event_loop()
    twilio: Any = None

    def number(n: int) -> str:
        return f"+1312{(offset + n) // 10_000 % 800 + 200:03d}{(offset + n) % 10_000:04d}"

    async def one_async(n: int) -> None:
        if client == HAVEN_ASYNC:
            result = await provider.send_sms_async(
                to=number(n), body=body, validity_seconds=21_600, status_callback=callback
            )
            if result.outcome != "accepted":
                failed.append(result.outcome)
        else:
            message = await twilio.messages.create_async(
                to=number(n),
                from_=FROM_NUMBER,
                body=body,
                validity_period=21_600,
                status_callback=callback,
            )
            if not message.sid:
                failed.append("no sid")

    async def send_async(start: int, end: int) -> None:
        nonlocal twilio
        if client == TWILIO_ASYNC and twilio is None:
            twilio = _twilio_async_client(url, sid, token)
        limit = asyncio.Semaphore(threads)

        async def bounded(n: int) -> None:
            async with limit:
                await one_async(n)

        await asyncio.gather(*(bounded(n) for n in range(start, end)))

    def send_blocking(start: int, end: int) -> None:
        def work(part: int) -> None:
            for n in range(start + part, end, threads):
                result = provider.send_sms(
                    to=number(n), body=body, validity_seconds=21_600, status_callback=callback
                )
                if result.outcome != "accepted":
                    failed.append(result.outcome)

        workers = [threading.Thread(target=work, args=(part,)) for part in range(threads)]
        for thread in workers:
            thread.start()
        for thread in workers:
            thread.join()

    def send(start: int, end: int) -> None:
        if client == BLOCKING:
            send_blocking(start, end)
        else:
            loop.run_until_complete(send_async(start, end))

    send(0, WARM_UP)
    cpu, started = process_cpu_seconds(os.getpid()), time.perf_counter()
    send(WARM_UP, WARM_UP + count)
    figures = (time.perf_counter() - started, process_cpu_seconds(os.getpid()) - cpu)
    loop.run_until_complete(provider.aclose())
    if twilio is not None:
        loop.run_until_complete(twilio.http_client.close())
    loop.close()
    if failed:
        raise RuntimeError(f"{len(failed)} baseline messages failed: {Counter(failed)}")
    if out is not None:
        out.put(figures)
    return figures


def _twilio_async_client(url: str, sid: str, token: str) -> Any:
    """The twilio client on its own AsyncTwilioHttpClient, its requests sent to `url`."""
    from urllib.parse import urlsplit

    from twilio.http.async_http_client import AsyncTwilioHttpClient
    from twilio.rest import Client

    # The twilio client passes aiohttp's `auth`, which aiohttp 3.13 deprecates.
    warnings.filterwarnings("ignore", "The 'auth' parameter", DeprecationWarning)

    class ToFake(AsyncTwilioHttpClient):  # type: ignore[misc]
        async def request(self, method: str, address: str, *args: Any, **kw: Any) -> Any:
            return await super().request(method, url + urlsplit(address).path, *args, **kw)

    return Client(sid, token, http_client=ToFake())


def client_ceiling(
    when: str, client: str, body: str, messages: int, processes: int, threads: int
) -> Ceiling:
    """Send `messages` to a fresh fake from `processes` processes (after a warm-up each)."""
    with FakeTwilioProcess() as fake:
        args = (client, fake.url, fake.account_sid, fake.auth_token, body)
        share = messages // processes
        if processes == 1:
            fake_before = process_cpu_seconds(fake.pid)
            results = [_send_many(*args, share, threads, 0)]
        else:
            context = multiprocessing.get_context("spawn")
            out = context.Queue()
            senders = [
                context.Process(
                    target=_send_many, args=(*args, share, threads, p * (share + WARM_UP), out)
                )
                for p in range(processes)
            ]
            for sender in senders:
                sender.start()
            fake_before = process_cpu_seconds(fake.pid)  # the warm-ups overlap a little
            results = [out.get(timeout=600) for _ in senders]
            for sender in senders:
                sender.join()
        fake_cpu = process_cpu_seconds(fake.pid) - fake_before
        accepted = fake.ask("count")
    if accepted != (share + WARM_UP) * processes:
        raise RuntimeError(f"the fake took {accepted} of {messages} baseline messages")
    return Ceiling(
        when,
        client,
        processes,
        threads,
        share * processes,
        max(seconds for seconds, _ in results),
        sum(cpu for _, cpu in results),
        fake_cpu,
    )


# Haven


def haven_json(database_url: str, *args: str) -> dict[str, Any]:
    """Run `haven <args> --json` and return what it printed."""
    done = subprocess.run(
        [str(HAVEN), *args, "--json"],
        env=haven_environment(database_url),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def call(base_url: str, key: str, path: str, body: object = None) -> dict[str, Any]:
    """POST JSON to the API as an officer; return the JSON answer (raise on an error)."""
    request = urllib.request.Request(
        base_url + path,
        data=json.dumps(body).encode() if body is not None else b"",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=300) as response:
        answer: dict[str, Any] = json.loads(response.read())
        return answer


def draft_body() -> dict[str, Any]:
    """An alert for the whole of Cook County, expiring in six hours."""
    expires = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=6)
    return {
        "status": "Actual",
        "expires": expires.isoformat(),
        "areas": [{"same": COOK_COUNTY}],
        "children": [{"name": "Jane Doe", "age": 7, "description": "brown hair, red jacket"}],
        "suspects": [{"description": "white male, 40s, grey hoodie"}],
        "vehicle": {
            "make": "Ford",
            "model": "Focus",
            "color": "blue",
            "plate": "ABC1234",
            "plate_state": "IL",
        },
        "last_seen": {"at": "2026-11-22T12:30:00-06:00", "place": "Millennium Park, Chicago"},
        "contact_phone": "+18005551234",
        "texts": {
            "en": "Call 911 with any information.",
            "es": "Llame al 911 con cualquier información.",
        },
    }


@dataclasses.dataclass(frozen=True)
class Config:
    """One arrangement of workers and dispatch settings."""

    workers: int
    concurrency: int
    batch: int
    senders: int
    in_flight: int

    def __str__(self) -> str:
        return (
            f"{self.workers} × {self.concurrency} threads, batch {self.batch}, "
            f"senders {self.senders}, in flight {self.in_flight}"
        )


class Workers:
    """`haven worker` processes (Celery, thread pool), the first with beat; stopped on exit."""

    def __init__(self, config: Config, env: dict[str, str], folder: Path) -> None:
        self.config = config
        self.env = env
        self.folder = folder
        self.processes: list[subprocess.Popen[bytes]] = []
        self._logs: list[IO[bytes]] = []

    def __enter__(self) -> Workers:
        for n in range(self.config.workers):
            log = (self.folder / f"worker-{n}.log").open("wb")
            self._logs.append(log)
            command = [str(HAVEN), "worker", "--concurrency", str(self.config.concurrency)]
            command.append("--beat" if n == 0 else "--no-beat")
            self.processes.append(
                subprocess.Popen(
                    command,
                    cwd=ROOT,
                    env=self.env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        try:
            self._wait_ready()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline:
            for n, process in enumerate(self.processes):
                if process.poll() is not None:
                    raise RuntimeError(f"worker {n} exited early:\n{self.log_tail(n)}")
            if all(" ready." in self.log_text(n) for n in range(len(self.processes))):
                return
            time.sleep(0.2)
        raise RuntimeError(f"workers not ready in {READY_SECONDS:.0f} s:\n{self.log_tail(0)}")

    def __exit__(self, *_exc: object) -> None:
        # Warm shutdown first: a send task gives its thread back within its slice.
        for process in self.processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        for process in self.processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(max(0.1, deadline - time.monotonic()))
        for process in self.processes:
            # Whatever is left in the group (a worker that lingers, beat's child) goes now.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        for log in self._logs:
            log.close()

    def pids(self) -> list[int]:
        """The worker processes and their descendants (beat runs in a child)."""
        found: list[int] = []
        stack = [p.pid for p in self.processes if p.poll() is None]
        while stack:
            pid = stack.pop()
            found.append(pid)
            stack.extend(child_pids(pid))
        return found

    def alive(self) -> bool:
        """Whether every worker still runs."""
        return all(p.poll() is None for p in self.processes)

    def log_text(self, n: int) -> str:
        """Worker `n`'s log so far."""
        path = self.folder / f"worker-{n}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def log_tail(self, n: int, chars: int = 3000) -> str:
        """The end of worker `n`'s log."""
        return self.log_text(n)[-chars:]

    def errors(self) -> Counter[str]:
        """Error and warning lines in the workers' logs, by their first words."""
        found: Counter[str] = Counter()
        for n in range(len(self.processes)):
            for line in self.log_text(n).splitlines():
                if "ERROR" in line or "WARNING" in line or "Traceback" in line:
                    found[line.split(":", 3)[-1].strip()[:90]] += 1
        return found


# Redis


def free_redis_db(base: str) -> str:
    """A Redis URL on `base`'s server with a database number that holds no keys right now.

    The SMS rate key (`haven:sms-rate`) is a fixed name: a database of the run's own keeps
    other runs' buckets and queues apart."""
    client = redis.Redis.from_url(base)
    try:
        used = {int(name[2:]) for name in client.info("keyspace")}
        databases = int(client.config_get("databases").get("databases") or 16)
    finally:
        client.close()
    free = [n for n in range(1, databases) if n not in used]
    if not free:
        raise SystemExit("no empty Redis database to run in")
    return base.rsplit("/", 1)[0] + f"/{secrets.choice(free)}"


def run_keys(client: redis.Redis, queue: str) -> list[Any]:
    """The keys this run's Celery app and token bucket use in its Redis database."""
    patterns = (f"{queue}*", "_kombu.*", "unacked*", "haven:sms-rate")
    return [key for pattern in patterns for key in client.keys(pattern)]


def redis_pids() -> list[int]:
    """The Redis server's process ids."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() == "redis-server":
                    found.append(int(entry.name))
    return found


# One dispatch


@dataclasses.dataclass
class Sample:
    """The state of the dispatch at one moment (seconds after approval returned)."""

    at: float
    sent: int
    recorded: int
    queued_tasks: int


@dataclasses.dataclass
class Outcome:
    """What one configuration achieved, and where its time went."""

    config: Config
    expected: int
    approve_seconds: float = 0.0
    first_sms: float | None = None  # seconds from approval returning
    recorded_at: float | None = None  # all deliveries recorded, seconds from approval
    finished_at: float | None = None  # last message arrived, seconds from approval
    timed_out: bool = False
    sent: int = 0
    duplicates: int = 0
    received: Any = None  # arrival times at the fake, seconds from approval, sorted
    samples: list[Sample] = dataclasses.field(default_factory=list)
    statuses: dict[str, int] = dataclasses.field(default_factory=dict)
    stamps: dict[str, float] = dataclasses.field(default_factory=dict)
    cpu: dict[str, list[tuple[str, float, float]]] = dataclasses.field(default_factory=dict)
    cpu_sent: dict[str, int] = dataclasses.field(default_factory=dict)
    waits: list[tuple[str, str, float]] = dataclasses.field(default_factory=list)
    profile: dict[str, Counter[str]] = dataclasses.field(default_factory=dict)
    profile_note: str = ""
    errors: Counter[str] = dataclasses.field(default_factory=Counter)
    sample_body: str = ""
    connections: int = 0  # TCP connections the fake saw
    failing_from: float | None = None  # the fake's first refusal, seconds from approval
    shifted_at: float | None = None  # the other provider's first message after it
    lost: int | None = None  # recipients reached by neither provider
    other_sent: int = 0

    def sustained(self) -> float:
        """Messages/s between the 10th and the 90th percentile of arrivals."""
        if self.received is None or len(self.received) < 100:
            return float("nan")
        low, high = np.percentile(self.received, [10, 90])
        return 0.8 * len(self.received) / (high - low) if high > low else float("nan")

    def haven_cpu_per_message(self) -> float:
        """CPU seconds per message of Haven's own processes (Celery workers, PostgreSQL
        backends, Redis) over the whole run: everything but the fake and the monitor."""
        rows = self.cpu.get("whole run", [])
        sent = self.cpu_sent.get("whole run", 0)
        mine = sum(seconds for name, seconds, _ in rows if name in (WORKERS, POSTGRES, REDIS))
        return mine / sent if sent else float("nan")

    def overall(self) -> float:
        """Messages/s from approval to the last arrival (or to the cut-off)."""
        end = self.finished_at if self.finished_at else (self.samples[-1].at if self.samples else 0)
        return self.sent / end if end else float("nan")

    def peak(self, window: float = 10.0) -> float:
        """The most messages in any `window` seconds, per second."""
        if self.received is None or not len(self.received):
            return float("nan")
        ends = np.searchsorted(self.received, self.received + window, side="right")
        return float((ends - np.arange(len(self.received))).max()) / window


def dispatch(
    *,
    database_url: str,
    server: HavenServer,
    officers: dict[str, str],
    config: Config,
    base_env: dict[str, str],
    redis_url: str,
    queue: str,
    expected: int,
    max_seconds: float,
    profile: bool,
    folder: Path,
    fail_after: int | None = None,
    failover: bool = False,
) -> Outcome:
    """Approve one alert to everyone and follow it until every message reached the fake
    (or, with `failover`, one of the two fakes)."""
    outcome = Outcome(config, expected)
    with contextlib.ExitStack() as fakes:
        fake = fakes.enter_context(FakeTwilioProcess())
        other = fakes.enter_context(FakeVonageProcess()) if failover else None
        if fail_after is not None:
            fake.ask(("fail_after", fail_after))
        env = {
            **base_env,
            "HAVEN_TWILIO_API_BASE": fake.url,
            "TWILIO_ACCOUNT_SID": fake.account_sid,
            "TWILIO_AUTH_TOKEN": fake.auth_token,
            "TWILIO_FROM_NUMBER": FROM_NUMBER,
            "HAVEN_DISPATCH_BATCH": str(config.batch),
            "HAVEN_DISPATCH_SENDERS": str(config.senders),
            "HAVEN_DISPATCH_IN_FLIGHT": str(config.in_flight),
            **(other.env if other is not None else {}),
        }
        with Workers(config, env, folder) as workers:
            alert = call(server.base_url, officers["drafter"], "/api/v1/alerts", draft_body())
            path = f"/api/v1/alerts/{alert['id']}"
            audience = call(server.base_url, officers["drafter"], f"{path}/audience")
            if audience["subscribers"] != expected:
                raise RuntimeError(f"the alert reaches {audience['subscribers']}, not {expected}")
            call(server.base_url, officers["drafter"], f"{path}/submit")
            meters = Meters(workers, database_url, fake.pid, server, outcome)
            meters.start("whole run")
            meters.start("while recording")
            with WaitSampler(database_url, interval=0.2) as waits:
                started = time.monotonic()
                call(
                    server.base_url,
                    officers["approver"],
                    f"{path}/approve",
                    {"revision": alert["revision"]},
                )
                approved = time.monotonic()
                outcome.approve_seconds = approved - started
                _follow(
                    outcome,
                    alert_id=alert["id"],
                    approved=approved,
                    fake=fake,
                    other=other,
                    workers=workers,
                    meters=meters,
                    database_url=database_url,
                    redis_url=redis_url,
                    queue=queue,
                    max_seconds=max_seconds,
                    profile=profile,
                    folder=folder,
                )
            outcome.waits = waits.shares()
            meters.stop_all()
            outcome.errors = workers.errors()
        summary = fake.ask("summary")
        outcome.sent = summary["accepted"]
        outcome.duplicates = summary["duplicates"]
        outcome.received = summary["received"] - approved
        outcome.connections = summary["connections"]
        if fail_after is not None:
            _failover_figures(outcome, summary, other, approved, fail_after)
        if outcome.sent:
            outcome.first_sms = float(outcome.received[0])
            if not outcome.timed_out:
                outcome.finished_at = float(outcome.received[-1])
        outcome.sample_body = fake.ask("first")[1]
    _database_figures(outcome, database_url, alert["id"])
    return outcome


class Meters:
    """CPU meters over phases of one dispatch, each with the messages sent meanwhile."""

    def __init__(
        self,
        workers: Workers,
        database_url: str,
        fake_pid: int,
        server: HavenServer,
        outcome: Outcome,
    ) -> None:
        self.groups: dict[str, Any] = {
            WORKERS: workers.pids,
            POSTGRES: lambda: backend_pids(database_url),
            REDIS: redis_pids(),
            FAKE: [fake_pid],
            SERVER: server.pids(),
            MONITOR: [os.getpid()],
        }
        self.outcome = outcome
        self._running: dict[str, tuple[CpuMeter, int]] = {}

    def start(self, label: str) -> None:
        """Start measuring phase `label`."""
        meter = CpuMeter(self.groups)
        meter.start()
        self._running[label] = (meter, self.outcome.sent)

    def stop(self, label: str) -> None:
        """Stop measuring phase `label` and keep its figures in the outcome."""
        meter, sent = self._running.pop(label)
        meter.stop()
        self.outcome.cpu[label] = meter.rows()
        self.outcome.cpu_sent[label] = self.outcome.sent - sent

    def stop_all(self) -> None:
        """Stop every phase still measured."""
        for label in list(self._running):
            self.stop(label)


def _follow(
    outcome: Outcome,
    *,
    alert_id: int,
    approved: float,
    fake: FakeTwilioProcess,
    other: FakeVonageProcess | None,
    workers: Workers,
    meters: Meters,
    database_url: str,
    redis_url: str,
    queue: str,
    max_seconds: float,
    profile: bool,
    folder: Path,
) -> None:
    """Sample progress until every message arrived, a worker died or time ran out."""
    broker = redis.Redis.from_url(redis_url)
    profiler: subprocess.Popen[bytes] | None = None
    raw = folder / "profile.txt"
    try:
        with psycopg.connect(libpq_url(database_url), autocommit=True) as connection:
            while True:
                time.sleep(POLL_SECONDS)
                now = time.monotonic() - approved
                sent = fake.ask("count") + (other.ask("count") if other is not None else 0)
                row = connection.execute(
                    "SELECT state, recorded FROM dispatch_job WHERE alert_id = %s", (alert_id,)
                ).fetchone()
                state, recorded = row if row else ("none", 0)
                outcome.samples.append(Sample(now, sent, recorded, int(broker.llen(queue))))
                if len(outcome.samples) % int(60 / POLL_SECONDS) == 0:
                    print(f"  {now:.0f} s: {recorded:,} recorded, {sent:,} sent", flush=True)
                outcome.sent = sent
                if state == "recorded" and outcome.recorded_at is None:
                    outcome.recorded_at = now
                    meters.stop("while recording")
                    meters.start("after recording")
                if profile and profiler is None and _steady(outcome):
                    profiler = _start_profiler(workers.processes[-1].pid, raw, outcome)
                if sent >= outcome.expected:
                    break
                if now > max_seconds:
                    outcome.timed_out = True
                    break
                if not workers.alive():
                    outcome.errors["a worker died"] += 1
                    break
    finally:
        broker.close()
        if profiler is not None:
            _finish_profiler(profiler, raw, outcome)


def _steady(outcome: Outcome) -> bool:
    """Whether sending has run for a while (the profile should see sending, not start-up)."""
    return outcome.sent > 0 and len(outcome.samples) * POLL_SECONDS > 20


def _start_profiler(pid: int, raw: Path, outcome: Outcome) -> subprocess.Popen[bytes] | None:
    spy = shutil.which("py-spy", path=str(HAVEN.parent)) or shutil.which("py-spy")
    if spy is None:
        outcome.profile_note = "py-spy is not installed (`.venv/bin/pip install py-spy`)."
        return None
    outcome.profile_note = (
        f"py-spy record --gil --nonblocking on one worker (pid {pid}) for "
        f"{PROFILE_SECONDS:.0f} s from {outcome.samples[-1].at:.0f} s after approval: "
        "samples of the thread holding the GIL, i.e. the process's Python CPU."
    )
    command = [spy, "record", "--pid", str(pid), "--gil", "--nonblocking", "--rate", "200"]
    command += ["--duration", str(int(PROFILE_SECONDS)), "--format", "raw", "--output", str(raw)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _finish_profiler(profiler: subprocess.Popen[bytes], raw: Path, outcome: Outcome) -> None:
    try:
        _stdout, stderr = profiler.communicate(timeout=PROFILE_SECONDS + 30)
    except subprocess.TimeoutExpired:
        profiler.kill()
        _stdout, stderr = profiler.communicate()
    if not raw.exists():
        outcome.profile_note += f" It failed: {stderr.decode(errors='replace')[-300:]}"
        return
    outcome.profile = classify_stacks(raw.read_text())


# Where a sample's time went: the library its innermost frames belong to...
LIBRARIES = [
    ("twilio/", "twilio client (request building, response parsing)"),
    ("requests/", "requests / urllib3 / http.client / socket (HTTP)"),
    ("urllib3/", "requests / urllib3 / http.client / socket (HTTP)"),
    ("http/client.py", "requests / urllib3 / http.client / socket (HTTP)"),
    ("socket.py", "requests / urllib3 / http.client / socket (HTTP)"),
    ("urllib/", "requests / urllib3 / http.client / socket (HTTP)"),
    ("sqlalchemy/", "SQLAlchemy"),
    ("psycopg/", "psycopg"),
    ("redis/", "redis client"),
    ("celery/", "Celery / kombu"),
    ("kombu/", "Celery / kombu"),
    ("jinja2/", "Flask / Jinja / Babel (rendering)"),
    ("babel/", "Flask / Jinja / Babel (rendering)"),
    ("flask/", "Flask / Jinja / Babel (rendering)"),
    ("pydantic", "pydantic"),
    ("/alerts/", "Haven code"),
    ("/haven/", "Haven code"),
    ("/geo/", "Haven code"),
]
# ... and the step of dispatch it was in: the function send_due or record_next_job called.
STEPS = {
    "claim_deliveries": "send: claim a batch (SELECT … FOR UPDATE SKIP LOCKED, UPDATE, SELECT)",
    "take": "send: rate limit (Redis EVAL per message)",
    "send_sms": "send: the twilio client (one HTTP request per message)",
    "save_outcomes": "send: save outcomes (one UPDATE per message)",
    "write": "send: begin and commit (haven.db.write)",
    "_render": "send: render the SMS (per batch and language)",
}


def classify_stacks(text: str) -> dict[str, Counter[str]]:
    """Sample counts by library and by dispatch step, from py-spy's raw (collapsed) output."""
    libraries: Counter[str] = Counter()
    steps: Counter[str] = Counter()
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        libraries[_library(frames)] += int(count)
        steps[_step(frames)] += int(count)
    return {"library": libraries, "step": steps}


def _library(frames: Sequence[str]) -> str:
    for frame in reversed(frames):
        for pattern, label in LIBRARIES:
            if pattern in frame:
                return label
    return "other (standard library, interpreter)"


def _step(frames: Sequence[str]) -> str:
    # py-spy names a method Class.method; the steps are named by the method alone.
    names = [frame.split(" (", 1)[0].strip().rsplit(".", 1)[-1] for frame in frames]
    for outer in ("send_due", "record_next_job"):
        if outer in names:
            at = names.index(outer) + 1
            below = [
                n for n, f in zip(names[at:], frames[at:], strict=True) if "contextlib" not in f
            ]
            if outer == "record_next_job":
                return "record: " + (below[0] if below else "record_next_job itself")
            return STEPS.get(below[0], f"send: {below[0]}") if below else "send: send_due itself"
    if "tick" in names:
        return "tick (beat's periodic task)"
    return "Celery and kombu outside the tasks (consumer, pool, broker I/O)"


def _database_figures(outcome: Outcome, database_url: str, alert_id: int) -> None:
    """Delivery statuses, and the phases from the database's own timestamps."""
    with psycopg.connect(libpq_url(database_url)) as connection:
        outcome.statuses = dict(
            connection.execute(
                "SELECT status, count(*) FROM delivery WHERE alert_id = %s GROUP BY status",
                (alert_id,),
            ).fetchall()
        )
        row = connection.execute(
            "SELECT j.created_at, min(d.next_attempt_at), min(d.sent_at), j.finished_at,"
            " max(d.sent_at) FROM dispatch_job j LEFT JOIN delivery d ON d.job_id = j.id"
            " WHERE j.alert_id = %s GROUP BY j.id",
            (alert_id,),
        ).fetchone()
    if row and row[0]:
        created = row[0]
        names = ("first chunk recorded", "first sent", "all recorded", "last sent")
        for name, value in zip(names, row[1:], strict=True):
            if value is not None:
                outcome.stamps[name] = (value - created).total_seconds()


def reset(database_url: str, redis_url: str, queue: str) -> None:
    """Empty the delivery table and the run's Redis keys before the next configuration."""
    with psycopg.connect(libpq_url(database_url), autocommit=True) as connection:
        connection.execute("TRUNCATE delivery")
        connection.execute("VACUUM ANALYZE delivery")
        connection.execute("CHECKPOINT")
    client = redis.Redis.from_url(redis_url)
    try:
        keys = run_keys(client, queue)
        if keys:
            client.delete(*keys)
    finally:
        client.close()


# The report


def ceiling_table(ceilings: Sequence[Ceiling]) -> str:
    """The client-alone runs."""
    return markdown_table(
        [
            "client alone (no database)",
            "processes × threads or in flight",
            "when",
            "messages",
            "seconds",
            "messages/s",
            "client CPU µs/msg",
            "fake CPU µs/msg",
        ],
        [
            (
                c.client,
                f"{c.processes} × {c.threads}",
                f"{c.when} the dispatches",
                c.messages,
                c.seconds,
                c.rate,
                round(c.client_cpu / c.messages * 1e6),
                round(c.fake_cpu / c.messages * 1e6),
            )
            for c in ceilings
        ],
    )


def summary_table(outcomes: Sequence[Outcome], ceilings: dict[int, Ceiling]) -> str:
    """One row per configuration."""
    rows = []
    for o in outcomes:
        same = ceilings.get(o.config.workers) or ceilings.get(1)
        projected = 1_000_000 / o.sustained() / 60 if o.sustained() > 0 else float("nan")
        haven_cpu = o.haven_cpu_per_message()
        rows.append(
            (
                str(o.config),
                f"{o.sent:,} of {o.expected:,}" + (" (cut off)" if o.timed_out else ""),
                o.duplicates,
                f"{o.first_sms:.1f}" if o.first_sms is not None else "-",
                f"{o.recorded_at:.0f}" if o.recorded_at is not None else "-",
                f"{o.finished_at:.0f}" if o.finished_at is not None else "-",
                o.overall(),
                o.sustained(),
                o.peak(),
                f"{o.sustained() / ceilings[1].rate:.2f}" if 1 in ceilings else "-",
                f"{o.sustained() / same.rate:.2f}" if same else "-",
                f"{haven_cpu * 1e6:,.0f}" if haven_cpu == haven_cpu else "-",
                f"{projected:.1f}",
                "yes" if o.sustained() >= GOAL_RATE else "no",
            )
        )
    return markdown_table(
        [
            "configuration",
            "messages",
            "duplicates",
            "first SMS s",
            "all recorded s",
            "all sent s",
            "overall msg/s",
            "sustained msg/s",
            "peak 10 s msg/s",
            "÷ Haven's client alone, 1 process",
            "÷ same, same processes",
            "Haven CPU µs/msg",
            "1M minutes",
            "goal met",
        ],
        rows,
    )


def detail(outcome: Outcome) -> str:
    """Timeline, phases, CPU split, database waits and profile of one configuration."""
    parts = [f"### {outcome.config}", ""]
    parts.append(
        f"Approve call: {outcome.approve_seconds:.2f} s. Delivery statuses: "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(outcome.statuses.items()))
        + "."
    )
    if outcome.lost is not None:
        parts.append(
            "Provider A failing part-way: it answered 500 from "
            + (f"{outcome.failing_from:.1f} s" if outcome.failing_from is not None else "-")
            + " after approval; the other provider took "
            + f"{outcome.other_sent:,} messages, its first after that at "
            + (f"{outcome.shifted_at:.1f} s" if outcome.shifted_at is not None else "- (none)")
            + f"; recipients reached by neither: {outcome.lost:,}."
        )
    if outcome.stamps:
        parts.append(
            "From the database (seconds after the approval committed): "
            + ", ".join(f"{k} {v:.1f}" for k, v in outcome.stamps.items())
            + "."
        )
    if outcome.errors:
        parts.append(
            "Worker log warnings/errors: "
            + "; ".join(f"{n}× {text}" for text, n in outcome.errors.most_common(5))
        )
    parts += ["", timeline_table(outcome), ""]
    for label, rows in outcome.cpu.items():
        sent = outcome.cpu_sent.get(label, 0)
        parts.append(f"CPU {label} ({sent:,} messages sent meanwhile):")
        parts.append("")
        parts.append(
            markdown_table(
                ["process group", "CPU s", "cores busy", "CPU ms per message"],
                [
                    (name, seconds, cores, seconds * 1000 / sent if sent else float("nan"))
                    for name, seconds, cores in rows
                ],
            )
        )
        parts.append("")
    if outcome.waits:
        parts.append("What this database's backends were doing (share of samples every 0.2 s):")
        parts.append("")
        parts.append(
            markdown_table(
                ["state", "wait event", "share"],
                [(s, e, f"{share:.0%}") for s, e, share in outcome.waits[:8]],
            )
        )
        parts.append("")
    if outcome.profile_note:
        parts.append(outcome.profile_note)
        parts.append("")
    for kind, counts in outcome.profile.items():
        total = sum(counts.values()) or 1
        parts.append(
            markdown_table(
                [f"worker time by {kind}", "samples", "share"],
                [(name, n, f"{n / total:.0%}") for name, n in counts.most_common(12)],
            )
        )
        parts.append("")
    return "\n".join(parts)


def timeline_table(outcome: Outcome, rows: int = 12) -> str:
    """Progress every so often: messages sent, deliveries recorded, tasks waiting in Redis."""
    samples = outcome.samples
    if not samples:
        return ""
    step = max(1, len(samples) // rows)
    chosen = samples[step - 1 :: step]
    if chosen[-1] is not samples[-1]:
        chosen.append(samples[-1])
    table = []
    previous = Sample(0.0, 0, 0, 0)
    for sample in chosen:
        span = sample.at - previous.at
        table.append(
            (
                f"{sample.at:.0f}",
                sample.recorded,
                sample.sent,
                (sample.sent - previous.sent) / span if span else 0.0,
                sample.queued_tasks,
            )
        )
        previous = sample
    return markdown_table(
        ["s after approval", "recorded", "sent", "msg/s in interval", "tasks queued in Redis"],
        table,
    )


# The run


def _list(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v.strip()]


def main() -> None:
    """Load the subscribers, measure the client alone, dispatch once per configuration."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--workers", type=_list, default=[2], help="worker processes (list)")
    parser.add_argument("--concurrency", type=_list, default=[8], help="threads each (list)")
    parser.add_argument("--batch", type=_list, default=[500], help="HAVEN_DISPATCH_BATCH (list)")
    parser.add_argument("--senders", type=_list, default=[4], help="HAVEN_DISPATCH_SENDERS (list)")
    parser.add_argument(
        "--in-flight", type=_list, default=[64], help="HAVEN_DISPATCH_IN_FLIGHT (list)"
    )
    parser.add_argument("--max-minutes", type=float, default=15.0, help="cut-off per dispatch")
    parser.add_argument("--baseline-messages", type=int, default=20_000)
    parser.add_argument("--baseline-threads", type=int, default=16, help="blocking client")
    parser.add_argument("--baseline-in-flight", type=int, default=64, help="async clients")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--profile", action="store_true", help="py-spy one worker while sending")
    parser.add_argument(
        "--fail-after", type=int, default=None, help="the Twilio fake fails after N messages"
    )
    parser.add_argument(
        "--failover", action="store_true", help="a second provider (FakeVonage) for failover"
    )
    parser.add_argument("--seed", type=int, default=20261122)
    args = parser.parse_args()
    exit_on_sigterm()
    try:
        run(args)
    except SystemExit as stop:
        if stop.code == 143:
            print("stopped by SIGTERM; everything was cleaned up", file=sys.stderr)
        raise


def run(args: argparse.Namespace) -> None:
    """Everything `main` does once the arguments are read."""
    machine = describe_machine()
    load_before = os.getloadavg()
    configs = [
        Config(*values)
        for values in itertools.product(
            args.workers, args.concurrency, args.batch, args.senders, args.in_flight
        )
    ]
    redis_url = free_redis_db(args.redis_url)
    queue = f"haven-bench-{secrets.token_hex(4)}"
    outcomes: list[Outcome] = []
    processes = sorted({1, *args.workers})
    print("measuring the client alone ...", flush=True)
    ceilings = [
        client_ceiling("before", client, BODY, args.baseline_messages, 1, threads)
        for client, threads in (
            (BLOCKING, args.baseline_threads),
            (TWILIO_ASYNC, args.baseline_in_flight),
        )
    ]
    ceilings += [
        client_ceiling(
            "before", HAVEN_ASYNC, BODY, args.baseline_messages, p, args.baseline_in_flight
        )
        for p in processes
    ]
    with contextlib.ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="haven-bench-")))
        stack.callback(_delete_redis_keys, redis_url, queue)
        database_url = stack.enter_context(temporary_database())
        load_seconds = load_subscribers(database_url, args.subscribers, args.seed)
        print(f"loaded {args.subscribers:,} subscribers in {load_seconds:.1f} s", flush=True)
        haven_json(database_url, "agency", "add", AGENCY, "--jurisdiction", COOK_COUNTY)
        officers = {
            "drafter": haven_json(database_url, "officer", "add", AGENCY, "Drafter")["api_key"],
            "approver": haven_json(
                database_url, "officer", "add", AGENCY, "Approver", "--approver"
            )["api_key"],
        }
        base_env = haven_environment(
            database_url,
            {
                "HAVEN_BROKER_URL": redis_url,
                "HAVEN_REDIS_URL": redis_url,
                "HAVEN_CELERY_QUEUE": queue,
                "HAVEN_SECRET_KEY": secrets.token_urlsafe(32),
                "HAVEN_PUBLIC_URL": PUBLIC_URL,
                "HAVEN_SMS_RATE_PER_SECOND": "1000000",
                "HAVEN_LOG_LEVEL": "WARNING",
                # The audience snapshot goes with the run's other files, not into instance/.
                "HAVEN_AUDIENCE_SNAPSHOT_DIR": str(folder / "audience"),
            },
        )
        server = stack.enter_context(HavenServer(database_url, workers=1, threads=4, env=base_env))
        for n, config in enumerate(configs):
            if n:
                reset(database_url, redis_url, queue)
            print(f"dispatching with {config} ...", flush=True)
            outcome = dispatch(
                database_url=database_url,
                server=server,
                officers=officers,
                config=config,
                base_env=base_env,
                redis_url=redis_url,
                queue=queue,
                expected=args.subscribers,
                max_seconds=args.max_minutes * 60,
                profile=args.profile,
                folder=folder,
                fail_after=args.fail_after,
                failover=args.failover,
            )
            outcomes.append(outcome)
            print(
                f"  {outcome.sent:,} sent, sustained {outcome.sustained():,.0f} msg/s, "
                f"first SMS {outcome.first_sms or float('nan'):.1f} s",
                flush=True,
            )
    body = next((o.sample_body for o in outcomes if o.sample_body), BODY)
    try:  # the dispatch figures are worth printing even if this fails
        ceilings += [
            client_ceiling(
                "after", HAVEN_ASYNC, body, args.baseline_messages, p, args.baseline_in_flight
            )
            for p in processes
        ]
    except RuntimeError as error:
        print(f"the client-alone run after the dispatches failed: {error}")
    print_report(args, machine, load_before, load_seconds, outcomes, ceilings, body)


def _delete_redis_keys(redis_url: str, queue: str) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        keys = run_keys(client, queue)
        if keys:
            client.delete(*keys)
        left = client.dbsize()
    finally:
        client.close()
    if left:
        print(f"note: {left} keys remain in {redis_url} (not this run's)")


def print_report(
    args: argparse.Namespace,
    machine: Any,
    load_before: tuple[float, float, float],
    load_seconds: float,
    outcomes: Sequence[Outcome],
    ceilings: list[Ceiling],
    body: str,
) -> None:
    """The markdown report."""
    best = max(outcomes, key=lambda o: o.sustained() if o.sustained() == o.sustained() else 0)
    out = io.StringIO()
    notes = [
        f"{args.subscribers:,} subscribers in Cook County, IL (one location each; languages "
        + ", ".join(f"{k} {v:.0%}" for k, v in LANGUAGES.items())
        + f"), loaded by COPY in {load_seconds:.0f} s; one alert to all of them.",
        "Path: `haven serve` approve → outbox row → Celery record task → deliveries recorded "
        "(a first chunk of 250, growing to 10,000 a transaction; senders kicked after the "
        "first) → send tasks claim batches → `TwilioSmsProvider.send_sms_async` (aiohttp "
        f"{_version('aiohttp')}, keep-alive; twilio {_version('twilio')} for the rest) → "
        "LeanFakeTwilio (asyncio, HTTP/1.1 keep-alive) on loopback in its own process, no rate "
        "limit (HAVEN_SMS_RATE_PER_SECOND=1e6, the Redis bucket still taken per group).",
        "Haven CPU µs/msg: Celery workers + PostgreSQL backends + Redis over the whole run, "
        "per message; the fake's and the monitor's CPU excluded.",
        f"Message: {len(body)} characters, e.g. {body[:80]!r}…",
        "first SMS: from the approve call returning to the first message arriving at the fake. "
        "sustained: between the 10th and 90th percentile of arrivals. "
        "1M minutes: 1,000,000 at the sustained rate.",
        f"Load average (1/5/15 min) at the start: {' / '.join(f'{v:.1f}' for v in load_before)};"
        f" at the end: {' / '.join(f'{v:.1f}' for v in os.getloadavg())}. The machine is "
        "shared: 'other processes' below is CPU that other tenants took meanwhile.",
        f"Goal: {GOAL_RATE:,.0f} messages/s. Best here: {best.sustained():,.0f} ({best.config}).",
    ]
    print(report_header("Dispatch: one alert to every subscriber", machine, notes), file=out)
    print(file=out)
    print(ceiling_table(ceilings), file=out)
    print(file=out)
    best_ceiling: dict[int, Ceiling] = {}
    for c in ceilings:  # Haven's client's best of its runs before and after, per process count
        if c.client != HAVEN_ASYNC:
            continue
        if c.processes not in best_ceiling or c.rate > best_ceiling[c.processes].rate:
            best_ceiling[c.processes] = c
    print(summary_table(outcomes, best_ceiling), file=out)
    print(file=out)
    for outcome in outcomes:
        print(detail(outcome), file=out)
    print(out.getvalue())


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


if __name__ == "__main__":
    main()
