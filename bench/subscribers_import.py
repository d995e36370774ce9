"""Bulk import of subscribers: `haven subscribers import` on 1,000,000 CSV rows.

Run: `.venv/bin/python -m bench.subscribers_import [--rows N]`. Loads the same generated
file into a fresh SQLite file and a fresh PostgreSQL database (created and dropped here),
through the real command, and reports rows per second. Goal: 1M rows in under a minute.
A baseline in the same run: reading and validating the CSV without storing it.
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import (
    describe_machine,
    haven_environment,
    markdown_table,
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


def run_import(database_url: str, source: Path) -> tuple[float, str]:
    """Migrate, import through the real CLI, and return (seconds, summary line)."""
    env = haven_environment(database_url)
    haven = [sys.executable, "-m", "haven.cli"]
    subprocess.run([*haven, "db", "upgrade"], env=env, check=True, capture_output=True)
    started = time.perf_counter()
    done = subprocess.run(
        [*haven, "subscribers", "import", str(source)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - started
    return elapsed, done.stdout.strip().splitlines()[-1]


def validate_only(source: Path) -> float:
    """The baseline: parse and validate every row, store nothing."""
    from alerts.subscribers import ImportReport, _rows

    started = time.perf_counter()
    report = ImportReport()
    with source.open() as handle:
        for _row in _rows(io.TextIOWrapper(handle.buffer), report):
            pass
    return time.perf_counter() - started


def main() -> None:
    """Generate the file, import it into SQLite and PostgreSQL, print the report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    machine = describe_machine()
    with tempfile.TemporaryDirectory(prefix="haven-bench-") as folder:
        source = Path(folder) / "subscribers.csv"
        bad = write_csv(source, args.rows)
        baseline = validate_only(source)
        rows = [
            (
                "validate only (baseline, no storage)",
                f"{baseline:.1f}",
                f"{args.rows / baseline:,.0f}",
                "1.00",
                "",
            )
        ]
        sqlite_seconds, sqlite_summary = run_import(f"sqlite:///{folder}/haven.db", source)
        rows.append(
            (
                "SQLite",
                f"{sqlite_seconds:.1f}",
                f"{args.rows / sqlite_seconds:,.0f}",
                f"{sqlite_seconds / baseline:.2f}",
                sqlite_summary,
            )
        )
        with temporary_database(migrate=False) as url:
            pg_seconds, pg_summary = run_import(url, source)
        rows.append(
            (
                "PostgreSQL",
                f"{pg_seconds:.1f}",
                f"{args.rows / pg_seconds:,.0f}",
                f"{pg_seconds / baseline:.2f}",
                pg_summary,
            )
        )
    print(
        report_header(
            f"Subscriber import: {args.rows:,} rows",
            machine,
            [
                f"{bad:,} rows are deliberately bad (unknown ZIP) and reported by line.",
                "Goal: 1,000,000 rows in under 60 s.",
            ],
        )
    )
    print()
    print(markdown_table(["run", "seconds", "rows/s", "ratio to baseline", "output"], rows))


if __name__ == "__main__":
    main()
