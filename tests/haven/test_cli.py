"""The `haven` command line, run as an operator would."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask

from alerts.audience import snapshot_path
from haven.cli import main
from haven.settings import SOURCE_ROOT, Settings
from haven.worker import worker_arguments


@pytest.fixture
def haven(app: Flask) -> CliRunner:
    return CliRunner(env={"HAVEN_DATABASE_URL": str(app.extensions["haven.db"].url)})


def test_platform_add_prints_its_credentials_once_as_json(haven: CliRunner) -> None:
    result = haven.invoke(main, ["platform", "add", "Example", "--json"])
    assert result.exit_code == 0, result.output
    credentials = json.loads(result.output)
    assert set(credentials) >= {
        "api_key",
        "stopncii_subscription_key",
        "stopncii_fetch_function_key",
    }
    again = haven.invoke(main, ["platform", "add", "Example"])
    assert again.exit_code == 1
    assert "already exists" in again.output


def test_an_officer_of_a_new_agency_gets_a_working_key(haven: CliRunner, app: Flask) -> None:
    added = haven.invoke(main, ["agency", "add", "Cook Sheriff", "--jurisdiction", "017031"])
    assert added.exit_code == 0, added.output
    result = haven.invoke(
        main, ["officer", "add", "Cook Sheriff", "Sgt Ortiz", "--approver", "--json"]
    )
    assert result.exit_code == 0, result.output
    key = json.loads(result.output)["api_key"]
    response = app.test_client().get("/api/v1/alerts/1", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 404  # authenticated; there is simply no alert 1


def test_an_agency_may_be_given_a_geojson_jurisdiction(haven: CliRunner, tmp_path: Path) -> None:
    area = tmp_path / "area.geojson"
    area.write_text(
        json.dumps(
            {
                "type": "Polygon",
                "coordinates": [
                    [[-88.0, 41.6], [-87.5, 41.6], [-87.5, 42.0], [-88.0, 42.0], [-88.0, 41.6]]
                ],
            }
        )
    )
    result = haven.invoke(main, ["agency", "add", "Lakeside", "--area", str(area)])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        (["agency", "add", "X"], "exactly one of"),
        (["agency", "add", "X", "--jurisdiction", "099999"], "099999"),
        (["officer", "add", "Nowhere PD", "Someone"], "No agency"),
    ],
)
def test_bad_operator_input_is_a_one_line_error(
    haven: CliRunner, arguments: list[str], says: str
) -> None:
    result = haven.invoke(main, arguments)
    assert result.exit_code != 0
    assert says in result.output
    assert "Traceback" not in result.output


def test_import_loads_good_rows_and_reports_bad_ones_by_line(
    haven: CliRunner, tmp_path: Path
) -> None:
    source = tmp_path / "subscribers.csv"
    source.write_text(
        "phone,language,zip,lat,lon\n"
        "+13125550101,en,60601,,\n"  # line 2: good, by ZIP
        "(312) 555-0102,es,,41.88,-87.63\n"  # line 3: good, by point
        "not a phone,en,60601,,\n"  # line 4: bad phone
        "+13125550104,en,00000,,\n"  # line 5: unknown ZIP
        "+13125550105,xx,60601,,\n"  # line 6: unknown language
        "+13125550106,en,,95,-87.6\n"  # line 7: latitude out of range
        "+13125550101,en,,41.9,-87.7\n"  # line 8: a second place for line 2's phone
    )
    result = haven.invoke(main, ["subscribers", "import", str(source)])
    assert result.exit_code == 0, result.output
    assert "read 7 rows: 2 new subscribers, 3 locations, 4 rows skipped" in result.output
    for line in (4, 5, 6, 7):
        assert f"line {line}:" in result.output
    tester = haven.invoke(main, ["subscribers", "tester", "312-555-0102"])
    assert tester.exit_code == 0, tester.output
    assert "+13125550102 is a tester" in tester.output


def test_with_haven_instance_path_nothing_is_written_into_the_code_tree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("HAVEN_DATABASE_URL", "HAVEN_AUDIENCE_SNAPSHOT_DIR"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("HAVEN_INSTANCE_PATH", str(tmp_path / "instance"))
    code_instance = SOURCE_ROOT / "instance"
    before = sorted(code_instance.iterdir()) if code_instance.exists() else None

    result = CliRunner().invoke(main, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "instance" / "haven.db").is_file()
    settings = Settings()
    snapshot = snapshot_path(settings.audience_snapshot_dir, settings.database_url)
    assert snapshot is not None
    assert snapshot.parent == tmp_path / "instance"
    schedule = f"--schedule={tmp_path / 'instance' / 'celerybeat-schedule'}"
    assert schedule in worker_arguments(settings, concurrency=1, beat=True)
    after = sorted(code_instance.iterdir()) if code_instance.exists() else None
    assert after == before


def test_serve_with_several_workers_and_no_redis_refuses_to_start_naming_the_setting(
    tmp_path: Path,
) -> None:
    runner = CliRunner(
        env={"HAVEN_DATABASE_URL": f"sqlite:///{tmp_path / 'haven.db'}", "HAVEN_REDIS_URL": None}
    )
    result = runner.invoke(main, ["serve", "--workers", "2", "--port", "1"])
    assert result.exit_code == 1
    assert "HAVEN_REDIS_URL" in result.output
    assert len(result.output.strip().splitlines()) == 1
