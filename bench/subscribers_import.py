"""Bulk import of subscribers: `haven subscribers import` on 1,000,000 CSV rows.

Run: `.venv/bin/python -m bench.subscribers_import [--rows N]`. Loads the same generated
file into a fresh SQLite file and a fresh PostgreSQL database (created and dropped here),
through the real command, and reports rows per second. Goal: 1M rows in under a minute.
A baseline in the same run: reading and validating the CSV without storing it, as the
import does (the first piece here, the rest in worker processes). Also reported: the
command's start-up (the same command on a file with no rows), the CPU of the command and
its workers, of the PostgreSQL backend, and the machine's load average.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg

from bench.common import (
    describe_machine,
    haven_environment,
    libpq_url,
    markdown_table,
    process_cpu_seconds,
    report_header,
    temporary_database,
)

# Real area codes; with exchanges 200-999 and 10,000 lines each, every row's number differs.
AREA_CODES = ["212", "312", "415", "617", "713", "202", "305", "404", "503", "602", "206"]
LANGUAGES = ["en"] * 6 + ["es"] * 3 + ["zh", "vi", "ar", "tl"]


def write_csv(path: Path, rows: int, seed: int = 7) -> int:
    """`rows` rows: a third by ZIP, the rest by point; one row in 1,000 is bad."""
    import zipcodes

    rng = random.Random(seed)
    zips = [z["zip_code"] for z in zipcodes.list_all() if z["lat"]]
    bad = 0
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["phone", "language", "zip", "lat", "lon"])
        for n in range(rows):
            phone = (
                f"+1{AREA_CODES[n % len(AREA_CODES)]}{200 + (n // 10_000) % 800:03d}"
                f"{n % 10_000:04d}"
            )
            language = rng.choice(LANGUAGES)
            if n % 1000 == 999:
                writer.writerow([phone, language, "00000", "", ""])  # unknown ZIP
                bad += 1
            elif n % 3 == 0:
                writer.writerow([phone, language, rng.choice(zips), "", ""])
            else:
                lat, lon = rng.uniform(25.0, 49.0), rng.uniform(-124.0, -67.0)
                writer.writerow([phone, language, "", f"{lat:.5f}", f"{lon:.5f}"])
    return bad


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class BackendCpu:
    """CPU seconds of a PostgreSQL database's backends while a command runs: read every
    0.2 s, keeping each backend's last reading (they exit with the command)."""

    def __init__(self, database_url: str | None) -> None:
        self.url = libpq_url(database_url) if database_url else None
        self.last: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> BackendCpu:
        if self.url:
            self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        if self.url:
            self._thread.join()

    def _watch(self) -> None:
        assert self.url
        with psycopg.connect(self.url, autocommit=True) as connection:
            while not self._stop.wait(0.2):
                rows = connection.execute(
                    "SELECT pid FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                ).fetchall()
                for (pid,) in rows:
                    seconds = process_cpu_seconds(int(pid))
                    if seconds:
                        self.last[int(pid)] = seconds

    @property
    def seconds(self) -> float:
        """The backends' CPU seconds (they start fresh, so their total is the run's)."""
        return sum(self.last.values())


def run_import(database_url: str, source: Path) -> tuple[float, float, float, str]:
    """Migrate, import through the real CLI; return (seconds, command CPU seconds including
    its workers, PostgreSQL backend CPU seconds, summary line)."""
    env = haven_environment(database_url)
    haven = [sys.executable, "-m", "haven.cli"]
    subprocess.run([*haven, "db", "upgrade"], env=env, check=True, capture_output=True)
    postgres = database_url if database_url.startswith("postgresql") else None
    cpu = _children_cpu()
    with BackendCpu(postgres) as backends:
        started = time.perf_counter()
        done = subprocess.run(
            [*haven, "subscribers", "import", str(source)],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        elapsed = time.perf_counter() - started
    return elapsed, _children_cpu() - cpu, backends.seconds, done.stdout.strip().splitlines()[-1]


def validate_only(source: Path) -> tuple[float, float]:
    """The baseline: read and validate every row as the import does, store nothing.
    Returns (seconds, CPU seconds of this process and its workers)."""
    from alerts.subscribers import check_subscribers

    cpu = time.process_time() + _children_cpu()
    started = time.perf_counter()
    with source.open(encoding="utf-8") as handle:
        for _piece in check_subscribers(handle):
            pass
    return time.perf_counter() - started, time.process_time() + _children_cpu() - cpu


def _row(
    run: str, seconds: float, cpu: float, backend: str, rows: int, baseline: float, startup: float
) -> tuple[str, ...]:
    return (
        run,
        f"{seconds:.1f}",
        f"{seconds - startup:.1f}" if startup else "",
        f"{rows / seconds:,.0f}",
        f"{seconds / baseline:.2f}",
        f"{cpu:.1f}",
        backend,
    )


def main() -> None:
    """Generate the file, import it into SQLite and PostgreSQL, print the report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    machine = describe_machine()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="haven-bench-") as folder:
        source = Path(folder) / "subscribers.csv"
        bad = write_csv(source, args.rows)
        empty = Path(folder) / "empty.csv"
        empty.write_text("phone,language,zip,lat,lon\n")
        startup, startup_cpu, _, _ = run_import(f"sqlite:///{folder}/startup.db", empty)
        baseline, baseline_cpu = validate_only(source)
        rows = [
            _row(
                "validate only (baseline, no storage)",
                baseline,
                baseline_cpu,
                "",
                args.rows,
                baseline,
                0,
            )
        ]
        outputs = []
        seconds, cpu, _, summary = run_import(f"sqlite:///{folder}/haven.db", source)
        rows.append(_row("SQLite", seconds, cpu, "", args.rows, baseline, startup))
        outputs.append(("SQLite", summary))
        with temporary_database(migrate=False) as url:
            seconds, cpu, backend, summary = run_import(url, source)
        rows.append(
            _row("PostgreSQL", seconds, cpu, f"{backend:.1f}", args.rows, baseline, startup)
        )
        outputs.append(("PostgreSQL", summary))
    load_after = os.getloadavg()
    print(
        report_header(
            f"Subscriber import: {args.rows:,} rows",
            machine,
            [
                f"{bad:,} rows are deliberately bad (unknown ZIP) and reported by line.",
                "Goal: 1,000,000 rows in under 60 s.",
                f"Start-up of the command (a file with no rows): {startup:.1f} s, "
                f"{startup_cpu:.1f} s CPU; it is inside every import figure below.",
                "Load average (1, 5, 15 min) before: "
                + ", ".join(f"{x:.1f}" for x in load_before)
                + "; after: "
                + ", ".join(f"{x:.1f}" for x in load_after)
                + f" (on {os.cpu_count()} CPUs).",
            ],
        )
    )
    print()
    headers = [
        "run",
        "seconds",
        "seconds less start-up",
        "rows/s",
        "ratio to baseline",
        "CPU s (command)",
        "CPU s (PostgreSQL)",
    ]
    print(markdown_table(headers, rows))
    print()
    for run, summary in outputs:
        print(f"- {run}: {summary}")


if __name__ == "__main__":
    main()
