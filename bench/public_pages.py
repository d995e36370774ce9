"""Public alert pages of a 90,000-vertex alert, cold and cached, and an officer's worst draft.

Run: `.venv/bin/python -m bench.public_pages [--views N]`. Builds an app on a fresh PostgreSQL
database (created and dropped here) holding one active Actual alert whose GeoJSON area has
90,000 vertices: more than the vertex limit allows today, as an alert stored before the limit
would be. Each request goes through the app in this process, and its CPU time is measured
with `time.process_time`. "cold" empties the render cache before each request: the cost of
the first view of a version, which is what every view cost before the cache. The baseline,
measured in the same run, is `GET /healthz`. The officer rows time `POST /api/v1/alerts` at
the area and vertex limits, and at 500 areas (refused now; 5.6 s of CPU before the fix).
"""

from __future__ import annotations

import argparse
import datetime
import math
import statistics
import time
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from bench.common import describe_machine, markdown_table, report_header, temporary_database

VERTICES = 90_000
CENTRE = (41.85, -87.75)  # the West Side of Chicago, inside Cook County


def ring(vertices: int, radius_deg: float = 0.05, lat: float = CENTRE[0]) -> list[list[float]]:
    """A closed [lon, lat] ring of `vertices` positions around `lat`, CENTRE's longitude."""
    steps = [2 * math.pi * n / (vertices - 1) for n in range(vertices - 1)]
    points = [
        [
            round(CENTRE[1] + radius_deg * math.cos(t) / 0.74, 6),
            round(lat + radius_deg * math.sin(t), 6),
        ]
        for t in steps
    ]
    return [*points, points[0]]


def draft_content(areas: list[dict[str, Any]]) -> dict[str, Any]:
    """An alert's content, as a draft stores it."""
    expires = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=6)
    return {
        "status": "Actual",
        "expires": expires.isoformat(),
        "areas": areas,
        "children": [{"name": "Jane Doe", "age": 7, "description": "brown hair, red jacket"}],
        "vehicle": {"make": "Ford", "model": "Focus", "color": "blue", "plate": "ABC1234"},
        "contact_phone": "+18005551234",
        "texts": {"en": "Call 911 with any information.", "es": "Llame al 911."},
    }


def set_up(app: Flask) -> tuple[int, str]:
    """Chicago PD (all of Illinois), an officer, and the big active alert; (alert id, key)."""
    from alerts import store
    from alerts.models import Alert, AlertVersion
    from alerts.service import add_agency, add_officer
    from haven.db import get_session, utcnow, write

    with app.app_context():
        session = get_session()
        agency = add_agency(session=session, name="Chicago PD", same_codes=["017000"])
        officer, key = add_officer(
            session=session, agency_name="Chicago PD", name="Drafter", approver=False
        )
        content = draft_content([{"geojson": {"type": "Polygon", "coordinates": [ring(VERTICES)]}}])
        now = utcnow()
        expires = datetime.datetime.fromisoformat(content["expires"])
        with write(session):
            alert = store.save(
                session=session,
                row=Alert(
                    agency_id=agency.id,
                    status="Actual",
                    state="active",
                    version=1,
                    created_by=officer.id,
                    created_at=now,
                    sent_at=now,
                    expires=expires,
                    content=content,
                ),
            )
            store.save(
                session=session,
                row=AlertVersion(
                    alert_id=alert.id,
                    version=1,
                    msg_type="Alert",
                    sent_at=now,
                    expires=expires,
                    content=content,
                ),
            )
        return alert.id, key


def cpu_of(request: Callable[[], Any], before: Callable[[], None] = lambda: None) -> float:
    """CPU seconds of one request (after `before`, which is not timed)."""
    before()
    started = time.process_time()
    response = request()
    elapsed = time.process_time() - started
    assert response.status_code in (200, 201, 422), response.status_code
    return elapsed


def median_cpu(
    request: Callable[[], Any], runs: int, before: Callable[[], None] = lambda: None
) -> float:
    """The median CPU seconds of `runs` requests."""
    return statistics.median(cpu_of(request, before) for _ in range(runs))


def public_rows(
    app: Flask, client: FlaskClient, alert_id: int, views: int
) -> list[tuple[object, ...]]:
    """Cold and cached CPU per request for each public view, against /healthz."""
    from alerts.public_cache import RenderCache

    def empty_cache() -> None:
        app.extensions["alerts.public_cache"] = RenderCache()

    baseline = median_cpu(lambda: client.get("/healthz"), views)
    rows: list[tuple[object, ...]] = [
        ("`GET /healthz` (baseline)", f"{baseline * 1000:.2f}", "", "1", "")
    ]
    for path in (f"/alerts/{alert_id}", f"/alerts/{alert_id}.cap", "/alerts", "/alerts/feed.atom"):
        cold = median_cpu(lambda p=path: client.get(p), 3, before=empty_cache)
        client.get(path)
        cached = median_cpu(lambda p=path: client.get(p), views)
        rows.append(
            (
                f"`GET {path.replace(str(alert_id), '<id>')}`",
                f"{cold * 1000:.1f}",
                f"{cached * 1000:.2f}",
                f"{cached / baseline:.1f}",
                f"{cold / cached:.0f}×",
            )
        )
    return rows


def officer_rows(client: FlaskClient, key: str) -> list[tuple[object, ...]]:
    """CPU of drafts at the limits (100 areas, 20,000 vertices) and over them."""
    headers = {"Authorization": f"Bearer {key}"}
    small = {"type": "Polygon", "coordinates": [ring(40)]}
    cases = [
        (
            "1 area of 20,000 vertices",
            [{"geojson": {"type": "Polygon", "coordinates": [ring(20_000)]}}],
        ),
        (
            "100 areas of 200 vertices",
            [
                {
                    "geojson": {
                        "type": "Polygon",
                        "coordinates": [ring(200, lat=CENTRE[0] + n * 1e-4)],
                    }
                }
                for n in range(100)
            ],
        ),
        ("100 SAME counties (Cook)", [{"same": "017031"}] * 100),
        ("500 areas of 40 vertices (refused: over the area limit)", [{"geojson": small}] * 500),
    ]
    rows: list[tuple[object, ...]] = []
    for label, areas in cases:
        body = draft_content(areas)
        status = client.post("/api/v1/alerts", json=body, headers=headers).status_code
        seconds = median_cpu(
            lambda b=body: client.post("/api/v1/alerts", json=b, headers=headers), 3
        )
        rows.append((label, f"{seconds:.3f}", str(status)))
    return rows


def main() -> None:
    """Set up, measure, print the report."""
    from haven.app import create_app
    from haven.settings import Settings

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--views", type=int, default=200, help="cached requests per route")
    args = parser.parse_args()
    machine = describe_machine()
    with temporary_database() as url:
        app = create_app(
            Settings(database_url=url, audience_snapshot_dir=None, log_level="WARNING")
        )  # type: ignore[call-arg]
        alert_id, key = set_up(app)
        client = app.test_client()
        public = public_rows(app, client, alert_id, args.views)
        officer = officer_rows(client, key)
        app.extensions["haven.db"].dispose()
    print(
        report_header(
            f"Public alert pages: one active alert of {VERTICES:,} vertices",
            machine,
            [
                "CPU time of one request in this process (`time.process_time`), PostgreSQL.",
                f"cold: median of 3 with an empty render cache; cached: median of {args.views}.",
            ],
        )
    )
    print()
    print(
        markdown_table(
            ["request", "cold CPU ms", "cached CPU ms", "cached ÷ healthz", "cold ÷ cached"], public
        )
    )
    print()
    print(markdown_table(["officer draft", "CPU s", "status"], officer))


if __name__ == "__main__":
    main()
