"""Every setting Haven reads from the environment, read once and validated at start-up."""

from __future__ import annotations

import secrets
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INSTANCE_DIR = PROJECT_ROOT / "instance"


class Settings(BaseSettings):
    """Haven's configuration. Field names map to `HAVEN_<NAME>` environment variables.

    Twilio's own variables keep Twilio's names (`TWILIO_ACCOUNT_SID`, ...), set by alias.
    """

    model_config = SettingsConfigDict(env_prefix="HAVEN_", extra="ignore", populate_by_name=True)

    database_url: str = f"sqlite:///{INSTANCE_DIR / 'haven.db'}"
    # Keys rate-limit counters and signs opaque tokens. Never stored; a random one per process
    # is fine for one machine, but several processes must share one.
    secret_key: str = Field(default_factory=lambda: secrets.token_urlsafe(32))
    redis_url: str | None = None
    broker_url: str | None = None
    public_url: str = "http://127.0.0.1:5000"
    max_request_bytes: int = 2 * 1024 * 1024
    # How many reverse proxies in front of Haven may set X-Forwarded-For (0: none trusted).
    proxy_hops: int = 0
    log_level: str = "INFO"

    # Take It Down
    max_case_hashes: int = Field(default=100, ge=1, le=10_000)
    min_pdq_quality: int = Field(default=50, ge=0, le=100)
    case_submit_rate: str = "30/minute"
    case_lookup_rate: str = "60/minute"
    pin_max_failures: int = 5
    pin_lockout_minutes: int = 15
    feed_max_page: int = 10_000

    # AMBER alerts
    # Where processes share the audience index as a memory-mapped file (empty: each process
    # keeps a private copy).
    audience_snapshot_dir: Path | None = INSTANCE_DIR
    alert_max_hours: int = 24
    jurisdiction_tolerance_km: float = 2.0
    two_person_rule: bool = True
    sms_segment_budget: int = Field(default=2, ge=1, le=10)
    sms_rate_per_second: float = Field(default=100.0, gt=0)
    dispatch_senders: int = Field(default=4, ge=1, le=64)
    # Deliveries a sender claims at once. A worker that dies mid-batch leaves at most this
    # many to be sent again after its lease runs out: the bound on duplicates.
    dispatch_batch: int = Field(default=100, ge=1, le=10_000)
    dispatch_lease_seconds: float = Field(default=60.0, gt=0)
    # Subscriptions: limits against abuse (SMS pumping, channel spam), per the `limits` syntax.
    subscription_code_per_phone_rate: str = "3/hour;5/day"
    subscription_code_per_client_rate: str = "10/hour;30/day"
    subscription_channel_per_client_rate: str = "10/hour"
    subscription_channel_per_destination_rate: str = "3/hour"
    subscription_sms_per_sender_rate: str = "30/hour"
    # Lets channel URLs point at loopback/private hosts. For tests only: in production it
    # would let anyone make Haven send requests inside its own network.
    allow_private_channel_hosts: bool = False
    celery_queue: str = "haven"
    twilio_api_base: str | None = None
    twilio_account_sid: str | None = Field(default=None, alias="TWILIO_ACCOUNT_SID")
    twilio_auth_token: str | None = Field(default=None, alias="TWILIO_AUTH_TOKEN")
    twilio_messaging_service_sid: str | None = Field(
        default=None, alias="TWILIO_MESSAGING_SERVICE_SID"
    )
    twilio_from_number: str | None = Field(default=None, alias="TWILIO_FROM_NUMBER")

    @field_validator("audience_snapshot_dir", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("database_url")
    @classmethod
    def _psycopg3_driver(cls, url: str) -> str:
        # Operators paste plain `postgresql://` URLs; Haven speaks psycopg 3 only.
        for prefix in ("postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url

    @property
    def is_sqlite(self) -> bool:
        """Whether the database is the embedded SQLite one."""
        return self.database_url.startswith("sqlite")
