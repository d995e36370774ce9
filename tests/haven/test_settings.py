"""Settings are validated at start-up: a bad value stops Haven with a message naming it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from haven.settings import PROJECT_ROOT, RATE_LIMIT_FIELDS, Settings, describe_errors


@pytest.mark.parametrize("field", RATE_LIMIT_FIELDS)
def test_a_misspelt_rate_limit_is_refused_naming_its_variable(field: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(**{field: "thirty/minute"})  # type: ignore[arg-type]
    assert describe_errors(refused.value) == [
        f"HAVEN_{field.upper()}: 'thirty/minute' is not a rate limit like \"30/minute\""
    ]


@pytest.mark.parametrize("value", ["30/minute", "3/hour;5/day", "10 per hour"])
def test_rate_limits_in_the_limits_syntax_are_accepted(value: str) -> None:
    assert Settings(case_submit_rate=value).case_submit_rate == value


def test_an_aliased_setting_is_named_by_its_own_variable() -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(TWILIO_AUTH_TOKEN=["not", "a", "string"])
    (line,) = describe_errors(refused.value)
    assert line.startswith("TWILIO_AUTH_TOKEN: ")
    assert "not" not in line.removeprefix("TWILIO_AUTH_TOKEN: ")  # secrets are not echoed


@pytest.mark.parametrize(
    "command", [["serve", "--port", "0"], ["worker", "--no-beat"]], ids=["serve", "worker"]
)
@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        pytest.param(
            "HAVEN_CASE_SUBMIT_RATE",
            "thirty/minute",
            "HAVEN_CASE_SUBMIT_RATE: 'thirty/minute' is not a rate limit like \"30/minute\"",
            id="rate-limit",
        ),
        pytest.param(
            "HAVEN_SUBSCRIPTION_CODE_PER_PHONE_RATE",
            "3/hour;5/dya",
            "HAVEN_SUBSCRIPTION_CODE_PER_PHONE_RATE: '3/hour;5/dya' is not a rate limit",
            id="second-of-two-rate-limits",
        ),
        pytest.param(
            "HAVEN_DISPATCH_SENDERS",
            "0",
            "HAVEN_DISPATCH_SENDERS: Input should be greater",
            id="number-out-of-range",
        ),
        pytest.param(
            "HAVEN_CAP_SIGNING_KEY",
            "/etc/haven/cap-key.pem",
            "HAVEN_CAP_SIGNING_CERT: HAVEN_CAP_SIGNING_KEY is set but HAVEN_CAP_SIGNING_CERT "
            "is not",
            id="cap-signing-key-alone",
        ),
    ],
)
def test_a_bad_setting_stops_the_command_with_one_line_naming_it(
    tmp_path: Path, command: list[str], variable: str, value: str, says: str
) -> None:
    env = {
        **os.environ,
        "HAVEN_DATABASE_URL": f"sqlite:///{tmp_path / 'haven.db'}",
        "HAVEN_AUDIENCE_SNAPSHOT_DIR": "",
        "HAVEN_BROKER_URL": "",
        variable: value,
    }
    # A real process, as an operator starts it: with a good setting these commands would
    # run until stopped, so the timeout is the failure.
    result = subprocess.run(
        [sys.executable, "-m", "haven.cli", *command],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert says in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_the_instance_path_holds_every_file_haven_writes(tmp_path: Path) -> None:
    settings = Settings(instance_path=str(tmp_path))
    assert settings.database_url == f"sqlite:///{tmp_path / 'haven.db'}"
    assert settings.audience_snapshot_dir == tmp_path
    assert settings.beat_schedule_path == tmp_path / "celerybeat-schedule"


def test_files_set_explicitly_stay_where_they_are_set(tmp_path: Path) -> None:
    settings = Settings(
        instance_path=str(tmp_path / "instance"),
        database_url="postgresql://haven@db/haven",
        audience_snapshot_dir="",
    )
    assert settings.database_url == "postgresql+psycopg://haven@db/haven"
    assert settings.audience_snapshot_dir is None


@pytest.mark.parametrize(
    ("field", "value"),
    [("pin_free_tries", 0), ("pin_first_wait_seconds", 0), ("pin_max_wait_seconds", -5)],
)
def test_pin_settings_that_would_never_slow_guessing_are_refused(field: str, value: int) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(**{field: value})  # type: ignore[arg-type]
    (line,) = describe_errors(refused.value)
    assert line.startswith(f"HAVEN_{field.upper()}: ")


@pytest.mark.parametrize("field", ["pin_max_failures", "pin_lockout_minutes"])
def test_the_old_lockout_settings_stop_start_up_naming_their_replacements(field: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(**{field: "5"})  # type: ignore[arg-type]
    (line,) = describe_errors(refused.value)
    assert line.startswith(f"HAVEN_{field.upper()}: is no longer read")
    assert "HAVEN_PIN_FREE_TRIES" in line


def test_the_longest_pin_wait_may_not_be_shorter_than_the_first() -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(pin_first_wait_seconds=60, pin_max_wait_seconds=30)
    (line,) = describe_errors(refused.value)
    assert line.startswith("HAVEN_PIN_MAX_WAIT_SECONDS: 30 is less than")


def test_a_misspelt_redis_url_is_refused_without_echoing_its_password() -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(redis_url="redis//:s3cretpw@redis.internal:6379/0")
    (line,) = describe_errors(refused.value)
    assert line.startswith("HAVEN_REDIS_URL: is not a Redis URL")
    assert "s3cretpw" not in line


def test_a_vpdq_byte_limit_no_request_could_carry_is_refused_naming_both_variables() -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(case_max_vpdq_bytes=4 * 1024 * 1024)
    (line,) = describe_errors(refused.value)
    assert line.startswith("HAVEN_CASE_MAX_VPDQ_BYTES: 4194304 bytes of vPDQ frames per case")
    assert "HAVEN_MAX_REQUEST_BYTES=2097152: raise that to at least 4429619" in line
    fits = Settings(case_max_vpdq_bytes=4 * 1024 * 1024, max_request_bytes=4429619)
    assert fits.case_max_vpdq_bytes == 4 * 1024 * 1024


def test_a_cap_signing_key_and_its_certificate_are_set_together_or_not_at_all(
    tmp_path: Path,
) -> None:
    from tests.alerts.test_cap_sign import write_key_and_certificate

    key, cert = write_key_and_certificate(tmp_path)
    for alone, missing in (({"cap_signing_key": key}, "CERT"), ({"cap_signing_cert": cert}, "KEY")):
        with pytest.raises(ValidationError) as refused:
            Settings(**alone)  # type: ignore[arg-type]
        (line,) = describe_errors(refused.value)
        assert f"but HAVEN_CAP_SIGNING_{missing} is not; set both" in line
    both = Settings(cap_signing_key=key, cap_signing_cert=cert)
    assert (both.cap_signing_key, both.cap_signing_cert) == (key, cert)
    neither = Settings(cap_signing_key="", cap_signing_cert="")  # type: ignore[arg-type]
    assert (neither.cap_signing_key, neither.cap_signing_cert) == (None, None)


def test_cap_signing_files_that_do_not_load_or_match_stop_start_up_saying_why(
    tmp_path: Path,
) -> None:
    from tests.alerts.test_cap_sign import write_key_and_certificate

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    key, _ = write_key_and_certificate(tmp_path / "a")
    _, other_cert = write_key_and_certificate(tmp_path / "b")
    for cert, says in (
        (other_cert, "is not for the key"),
        (tmp_path / "missing.pem", "cannot read the certificate file"),
        (key, "holds no PEM certificate"),
    ):
        with pytest.raises(ValidationError) as refused:
            Settings(cap_signing_key=key, cap_signing_cert=cert)
        (line,) = describe_errors(refused.value)
        assert line.startswith("HAVEN_CAP_SIGNING_CERT: ")
        assert says in line
