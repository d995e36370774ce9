"""Shared helpers for Haven's benchmarks: the machine, a throwaway database, a real server.

Every benchmark is one command that prints a markdown report and leaves nothing behind. The
pieces here make that easy:

- `describe_machine()` / `machine_table()`: CPU, Python and PostgreSQL versions, date, commit.
- `temporary_database()`: a migrated PostgreSQL database of the run's own, always dropped.
- `add_platform()`: register a platform through `haven platform add --json`.
- `HavenServer`: the production server (`haven serve`, gunicorn gthread) in a subprocess,
  stopped at the end; its access log gives the server-side time of each request.
- `CpuMeter`: CPU seconds of chosen processes (server, PostgreSQL backends, this process).
- `WaitSampler`: what the database's backends wait on (locks, the client, I/O) meanwhile.
- `percentile()`, `latency_summary()`, `markdown_table()`: figures and their layout.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import json
import os
import platform
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import IO, Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
HAVEN = VENV_BIN / "haven"
# Admin URL of the shared server; each run creates and drops a database of its own on it.
ADMIN_URL = os.environ.get(
    "HAVEN_BENCH_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# Layout


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A markdown table; numbers right-aligned, everything else left-aligned."""
    body = [[_cell(value) for value in row] for row in rows]
    numeric = [
        bool(body) and all(_is_number(row[i]) for row in body if row[i] != "")
        for i in range(len(headers))
    ]
    lines = [
        "| " + " | ".join(headers) + " |",
        "| " + " | ".join("---:" if n else "---" for n in numeric) + " |",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value).replace("|", "\\|")


def _is_number(text: str) -> bool:
    return bool(re.fullmatch(r"[-+]?[\d,]*\.?\d+\s*[%×x]?", text))


# Figures


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0-100) of `values`, interpolating linearly between ranks."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclasses.dataclass(frozen=True)
class LatencySummary:
    """Latency percentiles in milliseconds over `count` samples."""

    count: int
    p50: float
    p90: float
    p99: float
    max: float
    mean: float


def latency_summary(seconds: Sequence[float]) -> LatencySummary:
    """Percentiles (ms) of latencies given in seconds."""
    ms = sorted(s * 1000 for s in seconds)
    if not ms:
        nan = float("nan")
        return LatencySummary(0, nan, nan, nan, nan, nan)
    return LatencySummary(
        count=len(ms),
        p50=percentile(ms, 50),
        p90=percentile(ms, 90),
        p99=percentile(ms, 99),
        max=ms[-1],
        mean=sum(ms) / len(ms),
    )


# The machine


@dataclasses.dataclass(frozen=True)
class Machine:
    """What a figure was measured on, and when."""

    cpus: int
    cpu_model: str
    memory_gib: float
    kernel: str
    python: str
    postgres: str
    date: str
    commit: str


def describe_machine(database_url: str = ADMIN_URL) -> Machine:
    """Describe this machine and the PostgreSQL server behind `database_url`."""
    try:
        with psycopg.connect(libpq_url(database_url)) as connection:
            row = connection.execute("SHOW server_version").fetchone()
            postgres = str(row[0]) if row else "?"
    except psycopg.Error as exc:
        postgres = f"unavailable ({exc.__class__.__name__})"
    return Machine(
        cpus=os.cpu_count() or 0,
        cpu_model=_cpu_model(),
        memory_gib=_memory_gib(),
        kernel=platform.release(),
        python=platform.python_version(),
        postgres=postgres,
        date=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        commit=_git_commit(),
    )


def machine_table(machine: Machine) -> str:
    """The machine as a two-column markdown table."""
    return markdown_table(
        ["machine", ""],
        [
            ("CPUs (nproc)", str(machine.cpus)),
            ("CPU model", machine.cpu_model),
            ("memory", f"{machine.memory_gib:.1f} GiB"),
            ("kernel", machine.kernel),
            ("Python", machine.python),
            ("PostgreSQL", machine.postgres),
            ("date", machine.date),
            ("commit", machine.commit),
        ],
    )


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _memory_gib() -> float:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024**2
    return float("nan")


def _git_commit() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + (" (modified)" if dirty else "")


# The database


def libpq_url(url: str) -> str:
    """A SQLAlchemy `postgresql+psycopg://` URL as plain libpq (for `psycopg.connect`)."""
    return re.sub(r"^postgres(ql)?(\+psycopg)?://", "postgresql://", url)


def database_url_for(admin_url: str, name: str) -> str:
    """`admin_url` pointed at database `name` (SQLAlchemy form)."""
    base = re.sub(r"^postgres(ql)?(\+psycopg)?://", "postgresql+psycopg://", admin_url)
    return base.rsplit("/", 1)[0] + "/" + name


@contextlib.contextmanager
def temporary_database(admin_url: str = ADMIN_URL, *, migrate: bool = True) -> Iterator[str]:
    """Create `haven_bench_<random>`, migrate it, yield its SQLAlchemy URL; always drop it."""
    name = f"haven_bench_{secrets.token_hex(6)}"
    with psycopg.connect(libpq_url(admin_url), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = database_url_for(admin_url, name)
    try:
        if migrate:
            migrate_database(url)
        yield url
    finally:
        with psycopg.connect(libpq_url(admin_url), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def migrate_database(url: str) -> None:
    """Apply Haven's migrations to `url`."""
    from sqlalchemy import create_engine

    from haven.migrate import upgrade

    engine = create_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()


@dataclasses.dataclass(frozen=True)
class PlatformKeys:
    """A platform's credentials, as `haven platform add --json` prints them."""

    name: str
    api_key: str
    stopncii_subscription_key: str
    stopncii_fetch_function_key: str


def add_platform(database_url: str, name: str) -> PlatformKeys:
    """Register a platform with the real CLI and return its credentials."""
    completed = subprocess.run(
        [str(HAVEN), "platform", "add", name, "--json"],
        env=haven_environment(database_url),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    data = json.loads(completed.stdout.strip().splitlines()[-1])
    return PlatformKeys(
        **{field.name: data[field.name] for field in dataclasses.fields(PlatformKeys)}
    )


def haven_environment(database_url: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment with Haven pointed at `database_url` (and `extra` set)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAVEN_")}
    env["HAVEN_DATABASE_URL"] = database_url
    env.update(extra or {})
    return env


def backend_pids(database_url: str) -> list[int]:
    """PIDs of the PostgreSQL backends connected to this database (other than the asker)."""
    with psycopg.connect(libpq_url(database_url)) as connection:
        rows = connection.execute(
            "SELECT pid FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return [int(row[0]) for row in rows]


class WaitSampler:
    """Samples what this database's backends are doing, every `interval` s, in a thread.

    `shares()` gives each (state, wait event) its share of all backend samples, e.g.
    ('active', 'Lock:advisory') when writers queue for an advisory lock, or
    ('idle in transaction', 'Client:ClientRead') while a transaction waits for its client.
    """

    def __init__(self, database_url: str, *, interval: float = 0.05) -> None:
        self.database_url = database_url
        self.interval = interval
        self.counts: dict[tuple[str, str], int] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> WaitSampler:
        self._thread = threading.Thread(target=self._run, name="wait-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def _run(self) -> None:
        with psycopg.connect(libpq_url(self.database_url), autocommit=True) as connection:
            while not self._stop.wait(self.interval):
                rows = connection.execute(
                    "SELECT coalesce(state, '?'),"
                    " coalesce(wait_event_type || ':' || wait_event, '-'), count(*)"
                    " FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    " AND backend_type = 'client backend' GROUP BY 1, 2"
                ).fetchall()
                for state, event, count in rows:
                    self.counts[(state, event)] = self.counts.get((state, event), 0) + count

    def shares(self) -> list[tuple[str, str, float]]:
        """(state, wait event, share of samples), most frequent first."""
        total = sum(self.counts.values()) or 1
        ranked = sorted(self.counts.items(), key=lambda item: -item[1])
        return [(state, event, n / total) for (state, event), n in ranked]


# The server


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


_ACCESS = re.compile(r"\b(GET|POST|PUT|DELETE|PATCH) (\S+) (\d{3}) ([\d.]+)ms\s*$")


class HavenServer:
    """`haven serve` (gunicorn, gthread workers) on a free loopback port, as a context manager.

    The server's stderr goes to a temporary file; Haven's access log there records how long
    each request took inside the app (from Flask's before_request to after_request).
    """

    def __init__(
        self,
        database_url: str,
        *,
        workers: int = 2,
        threads: int = 4,
        env: Mapping[str, str] | None = None,
        ready_timeout: float = 60.0,
    ) -> None:
        self.database_url = database_url
        self.workers = workers
        self.threads = threads
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.ready_timeout = ready_timeout
        self._env = haven_environment(database_url, env)
        self._log: IO[bytes] | None = None
        self._runtime: tempfile.TemporaryDirectory[str] | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self._saved_log = ""

    def __enter__(self) -> HavenServer:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Start the server and wait until `/healthz` answers 200."""
        # Both are removed in stop(): they outlive this method.
        self._log = tempfile.TemporaryFile(prefix="haven-bench-server-")  # noqa: SIM115
        self._runtime = tempfile.TemporaryDirectory(prefix="haven-bench-run-")
        # gunicorn puts its control socket in $XDG_RUNTIME_DIR, else ~/.gunicorn/gunicorn.ctl,
        # a path every gunicorn on the machine would share.
        env = {**self._env, "XDG_RUNTIME_DIR": self._runtime.name}
        command = [str(HAVEN), "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        command += ["--workers", str(self.workers), "--threads", str(self.threads)]
        # A session of its own, so stopping it reaches the gunicorn workers and nothing else.
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            self._wait_ready(self.process)
        except BaseException:
            self.stop()  # `with` never calls __exit__ when __enter__ raises
            raise

    def _wait_ready(self, process: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"haven serve exited early:\n{self.log_text()[-3000:]}")
            if self._healthy() and len(self.worker_pids()) >= self.workers:
                return
            time.sleep(0.1)
        raise RuntimeError(f"haven serve was not ready in {self.ready_timeout:.0f} s")

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.base_url + "/healthz", timeout=2) as response:
                return bool(response.status == 200)
        except (OSError, urllib.error.URLError):
            return False

    def stop(self, timeout: float = 25.0) -> None:
        """Stop gracefully (SIGTERM to the gunicorn master), then forcibly if it lingers."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
        # Workers left behind by a master that died would still be in its process group.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        self._saved_log = self.log_text()
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._runtime is not None:
            self._runtime.cleanup()
            self._runtime = None

    def worker_pids(self) -> list[int]:
        """PIDs of the gunicorn workers (children of the master)."""
        if self.process is None:
            return []
        return child_pids(self.process.pid)

    def pids(self) -> list[int]:
        """The master and its workers."""
        return [self.process.pid, *self.worker_pids()] if self.process else []

    def log_text(self) -> str:
        """Everything the server wrote so far (or before it stopped)."""
        if self._log is None:
            return self._saved_log
        self._log.flush()
        self._log.seek(0)
        text = self._log.read().decode(errors="replace")
        self._log.seek(0, os.SEEK_END)
        return text

    def log_offset(self) -> int:
        """A mark in the log; pass it to `server_times` to see only later requests."""
        return len(self.log_text())

    def server_times(
        self, *, path: str, since: int = 0, method: str = "GET", status: int | None = None
    ) -> list[float]:
        """In-app seconds of each logged request to `path` (after log mark `since`).

        `path` is the concrete path, or the route pattern on anonymous routes (whose access
        log never shows the path). With `status`, only requests that ended with it count.
        """
        times = []
        for line in self.log_text()[since:].splitlines():
            match = _ACCESS.search(line)
            if not match or match[1] != method or match[2] != path:
                continue
            if status is None or int(match[3]) == status:
                times.append(float(match[4]) / 1000)
        return times

    def status_counts(self, *, since: int = 0) -> dict[str, int]:
        """How many logged requests ended with each status code (after log mark `since`)."""
        counts: dict[str, int] = {}
        for line in self.log_text()[since:].splitlines():
            match = _ACCESS.search(line)
            if match:
                counts[match[3]] = counts.get(match[3], 0) + 1
        return counts


def child_pids(parent: int) -> list[int]:
    """PIDs whose parent is `parent` (from /proc)."""
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _read_stat(int(entry.name))
            if stat is not None and int(stat[1]) == parent:
                children.append(int(entry.name))
    return children


# CPU accounting


def _read_stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (state is [0], ppid [1])."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used (0 if it is gone)."""
    stat = _read_stat(pid)
    if stat is None:
        return 0.0
    return (int(stat[11]) + int(stat[12])) / CLOCK_TICKS


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, over every CPU."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    total = sum(fields[:8])  # guest time is already counted in user
    return (total - idle) / CLOCK_TICKS, total / CLOCK_TICKS


class CpuMeter:
    """CPU seconds used by groups of processes between `start()` and `stop()`.

    Groups map a label to PIDs; a PID that exits in between counts only until its last
    reading, so give long-lived processes (server workers, pooled database backends).
    """

    def __init__(self, groups: Mapping[str, Sequence[int] | Callable[[], Sequence[int]]]) -> None:
        # A callable is asked again at stop(), so processes that appeared meanwhile count too
        # (from their start, which then lies inside the measured interval).
        self._sources = dict(groups)
        self.groups = {label: _pids_of(source) for label, source in groups.items()}
        self._start: dict[int, float] = {}
        self._machine_start = (0.0, 0.0)
        self._wall_start = 0.0
        self.seconds: dict[str, float] = {}
        self.machine_busy = 0.0
        self.wall = 0.0

    def start(self) -> None:
        """Take the first reading."""
        self._start = {
            pid: process_cpu_seconds(pid) for pids in self.groups.values() for pid in pids
        }
        self._machine_start = machine_cpu_seconds()
        self._wall_start = time.monotonic()

    def stop(self) -> None:
        """Take the second reading and compute each group's CPU seconds."""
        self.wall = time.monotonic() - self._wall_start
        busy, _total = machine_cpu_seconds()
        self.machine_busy = busy - self._machine_start[0]
        for label, source in self._sources.items():
            if callable(source):
                self.groups[label] = sorted(set(self.groups[label]) | set(source()))
        self.seconds = {
            label: sum(
                max(0.0, process_cpu_seconds(pid) - self._start.get(pid, 0.0)) for pid in pids
            )
            for label, pids in self.groups.items()
        }

    def rows(self) -> list[tuple[str, float, float]]:
        """(label, CPU seconds, cores busy on average) per group, then the machine and the rest."""
        wall = self.wall or float("nan")
        other = self.machine_busy - sum(self.seconds.values())
        return [
            *((label, s, s / wall) for label, s in self.seconds.items()),
            ("other processes (PostgreSQL background, other tenants)", other, other / wall),
            ("whole machine", self.machine_busy, self.machine_busy / wall),
        ]


def _pids_of(source: Sequence[int] | Callable[[], Sequence[int]]) -> list[int]:
    return list(source() if callable(source) else source)


# Process hygiene


def exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so `with` blocks still stop servers and drop databases."""

    def _raise(_signum: int, _frame: FrameType | None) -> Any:
        raise SystemExit(143)

    signal.signal(signal.SIGTERM, _raise)


def report_header(title: str, machine: Machine, notes: Sequence[str] = ()) -> str:
    """The top of a benchmark report: title, machine table and notes."""
    lines = [f"## {title}", "", machine_table(machine), ""]
    lines += [f"- {note}" for note in notes]
    return "\n".join(lines)
