"""Every setting Haven reads from the environment, read once and validated at start-up.

Domain code reads the running app's settings with `get_settings()`, never by importing the
app factory.
"""

from __future__ import annotations

import re
import secrets
import sys
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from flask import current_app
from limits import parse_many
from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SOURCE_ROOT = Path(__file__).resolve().parent.parent


def _data_root() -> Path:
    """Where templates, static files, translations and migrations are: the source checkout,
    or `<prefix>/share/haven/` when Haven runs from an installed wheel (pyproject.toml)."""
    if (SOURCE_ROOT / "templates").is_dir():
        return SOURCE_ROOT
    return Path(sys.prefix) / "share" / "haven"


PROJECT_ROOT = _data_root()
# The default of `Settings.instance_path`: in the checkout, or under the working directory of
# an installed Haven.
INSTANCE_DIR = SOURCE_ROOT / "instance" if PROJECT_ROOT == SOURCE_ROOT else Path.cwd() / "instance"


# Settings in the `limits` syntax ("30/minute", "3/hour;5/day").
RATE_LIMIT_FIELDS = (
    "case_submit_rate",
    "case_lookup_rate",
    "feed_rate_per_platform",
    "subscription_code_per_phone_rate",
    "subscription_code_per_client_rate",
    "subscription_channel_per_client_rate",
    "subscription_channel_per_destination_rate",
    "subscription_sms_per_sender_rate",
)

REDIS_SCHEMES = frozenset({"redis", "rediss", "redis+sentinel", "redis+cluster", "unix"})

# Settings whose values must not be echoed back in an error message.
_SECRET_FIELDS = frozenset(
    {"database_url", "secret_key", "redis_url", "broker_url", "metrics_token"}
)


class Settings(BaseSettings):
    """Haven's configuration. Field names map to `HAVEN_<NAME>` environment variables.

    Twilio's own variables keep Twilio's names (`TWILIO_ACCOUNT_SID`, ...), set by alias.
    """

    model_config = SettingsConfigDict(env_prefix="HAVEN_", extra="ignore", populate_by_name=True)

    # Every file Haven writes: the SQLite database and the audience snapshot (unless their own
    # settings say otherwise) and Celery beat's schedule.
    instance_path: Path = INSTANCE_DIR
    # Default: SQLite at <instance_path>/haven.db.
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
    # Bearer token for `GET /metrics`. Unset: /metrics answers loopback peers only.
    metrics_token: str | None = None

    # Take It Down
    max_case_hashes: int = Field(default=100, ge=1, le=10_000)
    min_pdq_quality: int = Field(default=50, ge=0, le=100)
    # vPDQ (video): frames in one video's hash, one a second (3600: an hour of video); and the
    # bytes of vPDQ frames one case may hold (1 MiB: about 13,000 frames, 3.6 hours). A case at
    # that limit must still fit in a request (checked below).
    vpdq_max_frames: int = Field(default=3600, ge=1, le=1_000_000)
    case_max_vpdq_bytes: int = Field(default=1024 * 1024, ge=1024)
    case_submit_rate: str = "30/minute"
    case_lookup_rate: str = "60/minute"
    # Wrong PINs slow guessing, never lock a case (docs/takedown-page.md, "Wrong PINs"): per
    # case and client, the first `pin_free_tries` wrong ones cost nothing; after that, each
    # makes the next wait twice as long, from `pin_first_wait_seconds` up to
    # `pin_max_wait_seconds`. Per client over every case, the same from `pin_client_free_tries`.
    pin_free_tries: int = Field(default=5, ge=1, le=100)
    pin_client_free_tries: int = Field(default=20, ge=1, le=1000)
    pin_first_wait_seconds: int = Field(default=2, ge=1, le=3600)
    pin_max_wait_seconds: int = Field(default=3600, ge=1, le=86400)
    # Replaced by the settings above: set, they stop start-up with a message saying so.
    pin_max_failures: str | None = None
    pin_lockout_minutes: str | None = None
    feed_max_page: int = 10_000
    # Requests one platform may make to its feed routes (native and StopNCII together).
    feed_rate_per_platform: str = "600/minute"
    # How long a platform's previous credentials keep working after `haven platform rotate`.
    platform_key_grace_hours: float = Field(default=24, ge=0, le=24 * 90)
    # The help on every takedown page, by country (takedown/help.py): a TOML file of the
    # operator's own. Unset: the bundled takedown/help.toml.
    help_file: Path | None = None
    # Who runs this Haven: shown in the footer of the takedown pages and in their privacy
    # notice. The contact is an email address, a web address or a phone number.
    operator_name: str | None = Field(default=None, max_length=200)
    operator_url: str | None = None
    operator_contact: str | None = Field(default=None, max_length=200)
    # What the takedown pages call the service ("Take It Down" only when the operator runs
    # NCMEC's service under that name). Unset: neutral, translated wording.
    takedown_service_name: str | None = Field(default=None, max_length=100)

    # AMBER alerts
    # Where processes share the audience index as a memory-mapped file (empty: each process
    # keeps a private copy). Default: instance_path.
    audience_snapshot_dir: Path | None = INSTANCE_DIR
    alert_max_hours: int = 24
    jurisdiction_tolerance_km: float = 2.0
    two_person_rule: bool = True
    # Officers' console (docs/console.md): a sign-in ends after this many idle minutes; an
    # enrolment link is valid this many hours. A tile server's URL template
    # ("https://tiles.example/{z}/{x}/{y}.png") adds a base map under the bundled outlines.
    console_idle_minutes: int = Field(default=30, ge=1, le=24 * 60)
    console_enrolment_hours: int = Field(default=24, ge=1, le=24 * 14)
    map_tiles_url: str | None = None
    map_tiles_attribution: str | None = None
    # How long a cancelled alert stays in the public Atom feed, marked as a Cancel, so that
    # aggregators that showed it withdraw it (Google asks 24 to 48 hours; docs/cap.md).
    feed_keep_hours: float = Field(default=48, ge=0, le=24 * 7)
    # An officer's areas per alert, and their vertices in all: together they keep a draft or
    # an update under a second of CPU (docs/geo.md). Schemas refuse more than 500 areas.
    alert_max_areas: int = Field(default=100, ge=1, le=500)
    alert_max_vertices: int = Field(default=20_000, ge=4, le=1_000_000)
    # XML-sign every CAP document Haven serves or pushes, as IPAWS-OPEN requires: PEM files of
    # an RSA private key and its certificate (chain), both or neither (docs/cap.md).
    cap_signing_key: Path | None = None
    cap_signing_cert: Path | None = Field(default=None, validate_default=True)
    # Children's photos, fetched when an alert is approved (alerts/photos.py): the largest
    # photo Haven keeps, and the most an approval (or update) waits for all its photos at
    # once; a photo not in by then is reported and the alert goes out without it. Under the
    # server's 60 s request timeout with room to spare.
    photo_max_bytes: int = Field(default=5_000_000, ge=1024, le=50_000_000)
    photo_fetch_seconds: float = Field(default=10.0, gt=0, le=30)
    sms_segment_budget: int = Field(default=2, ge=1, le=10)
    sms_rate_per_second: float = Field(default=100.0, gt=0)
    dispatch_senders: int = Field(default=4, ge=1, le=64)
    # Deliveries a sender claims at once. A worker that dies mid-batch leaves at most this
    # many to be sent again after its lease runs out: the bound on duplicates.
    dispatch_batch: int = Field(default=100, ge=1, le=10_000)
    dispatch_lease_seconds: float = Field(default=60.0, gt=0)
    # SMS one sender keeps in flight at once (asyncio, on keep-alive connections), all within
    # its claimed batch: the bound on duplicates stays the batch.
    dispatch_in_flight: int = Field(default=64, ge=1, le=1_000)
    # Times a delivery is tried (a worker that dies mid-batch spends one) before it fails.
    dispatch_max_attempts: int = Field(default=5, ge=1, le=100)
    # Sender threads (in-process) or send tasks (Celery) for channels, apart from SMS senders.
    dispatch_channel_senders: int = Field(default=2, ge=1, le=64)
    # The most one message to a channel (or a sign-up's confirmation) may take: Haven stops
    # waiting then, and caps the channel's socket timeouts at half of it.
    channel_send_seconds: float = Field(default=10.0, gt=0, le=300)
    # Secondary distributors that Haven pushes CAP to (docs/cap.md): sender threads
    # (in-process) or push tasks (Celery), apart from SMS and channel senders; the most one
    # push may take; and the tries one push gets (with backoff) before it fails.
    distributor_senders: int = Field(default=2, ge=1, le=64)
    distributor_push_seconds: float = Field(default=10.0, gt=0, le=120)
    distributor_max_attempts: int = Field(default=10, ge=1, le=100)
    # Subscriptions: limits against abuse (SMS pumping, channel spam), per the `limits` syntax.
    subscription_code_per_phone_rate: str = "3/hour;5/day"
    subscription_code_per_client_rate: str = "10/hour;30/day"
    subscription_channel_per_client_rate: str = "10/hour"
    subscription_channel_per_destination_rate: str = "3/hour"
    subscription_sms_per_sender_rate: str = "30/hour"
    # Lets channel URLs point at loopback/private hosts, distributor URLs at http:// on
    # loopback, and children's photo URLs at loopback. For tests only: in production it
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
    # The short code people text JOIN and START to, when Twilio has one for Haven: pages
    # name it instead of TWILIO_FROM_NUMBER (docs/subscriptions.md).
    sms_short_code: str | None = None
    # Vonage, a second SMS provider (alerts/vonage.py), with Vonage's own variable names: the
    # API key and secret, the signature secret its webhooks are signed with (and the method
    # chosen for it in Vonage's dashboard: an HMAC), and the sender (a number or a sender ID).
    vonage_api_key: str | None = Field(default=None, alias="VONAGE_API_KEY")
    vonage_api_secret: str | None = Field(default=None, alias="VONAGE_API_SECRET")
    vonage_signature_secret: str | None = Field(default=None, alias="VONAGE_SIGNATURE_SECRET")
    vonage_signature_method: Literal["md5", "sha1", "sha256", "sha512"] = "sha256"
    vonage_from: str | None = Field(default=None, alias="VONAGE_FROM")
    # For tests: the host (and port) of Vonage's SMS API, and the CA bundle to trust for it.
    vonage_rest_host: str = "rest.nexmo.com"
    vonage_ca_bundle: Path | None = None
    # With both providers: each one's share of the traffic at rest, in percent ("twilio:70,
    # vonage:30"), and when one loses priority to the other (alerts/failover.py): more than
    # `errors` errors within `window` seconds, or its 90th percentile of acceptance above
    # `slow` seconds; `step` points a change, at most one a `hold` seconds; back towards
    # its share by `step` each `recover` seconds it shows no trouble.
    sms_providers: str = "twilio:70,vonage:30"
    sms_failover_errors: int = Field(default=10, ge=1)
    sms_failover_window_seconds: float = Field(default=30.0, gt=0)
    sms_failover_slow_seconds: float = Field(default=5.0, gt=0)
    sms_failover_step: int = Field(default=10, ge=1, le=100)
    sms_failover_hold_seconds: float = Field(default=5.0, ge=0)
    sms_failover_recover_seconds: float = Field(default=60.0, gt=0)

    @field_validator("pin_max_failures", "pin_lockout_minutes")
    @classmethod
    def _replaced(cls, value: str | None) -> None:
        # A lockout setting silently ignored would leave an operator believing cases lock.
        if value is not None:
            raise ValueError(
                "is no longer read: wrong PINs now slow guessing instead of locking a case. "
                "Use HAVEN_PIN_FREE_TRIES, HAVEN_PIN_CLIENT_FREE_TRIES, "
                "HAVEN_PIN_FIRST_WAIT_SECONDS and HAVEN_PIN_MAX_WAIT_SECONDS (README)"
            )
        return None

    @field_validator("pin_max_wait_seconds")
    @classmethod
    def _wait_grows(cls, value: int, info: ValidationInfo) -> int:
        first = info.data.get("pin_first_wait_seconds")
        if first is not None and value < first:
            raise ValueError(
                f"{value} is less than HAVEN_PIN_FIRST_WAIT_SECONDS={first}: the longest wait "
                "must be at least the first"
            )
        return value

    @field_validator(
        "audience_snapshot_dir", "cap_signing_key", "cap_signing_cert", "help_file", mode="before"
    )
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("help_file")
    @classmethod
    def _help_file(cls, path: Path | None) -> Path | None:
        # Checked here so that a mistake in the file stops start-up, saying where it is.
        if path is not None:
            from takedown.help import load_help

            load_help(path)  # HelpFileError (a ValueError): names the file, place and problem
        return path

    @field_validator(
        "operator_name", "operator_url", "operator_contact", "takedown_service_name", mode="before"
    )
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        if isinstance(value, str):
            value = " ".join(value.split())
        return None if value == "" else value

    @field_validator("operator_url")
    @classmethod
    def _web_address(cls, url: str | None) -> str | None:
        # Shown to families as a link: a typo stops start-up instead.
        if url is not None and not is_web_address(url):
            raise ValueError(f"{url!r} is not a web address like https://example.org")
        return url

    @field_validator("operator_contact")
    @classmethod
    def _contact(cls, contact: str | None) -> str | None:
        if contact is not None and contact_kind(contact) is None:
            raise ValueError(
                f"{contact!r} is not an email address, a web address (https://...) or a phone "
                "number (+1 555 010 0000)"
            )
        return contact

    @field_validator("sms_short_code")
    @classmethod
    def _short_code(cls, code: str | None) -> str | None:
        # US short codes are 5 or 6 digits; anything else would be shown to people as the
        # number to text, so it stops start-up instead.
        if code is None or code.strip() == "":
            return None
        if not re.fullmatch(r"\d{5,6}", code.strip()):
            raise ValueError(f"{code!r} is not a short code (5 or 6 digits)")
        return code.strip()

    @field_validator("sms_providers")
    @classmethod
    def _provider_shares(cls, value: str) -> str:
        # A typo would send every SMS through one provider: it stops start-up instead.
        parse_provider_shares(value)
        return value

    @field_validator(*RATE_LIMIT_FIELDS)
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        # Checked here so that a typo stops start-up, not every request that hits the limit.
        try:
            parse_many(value)
        except ValueError:
            raise ValueError(f'{value!r} is not a rate limit like "30/minute"') from None
        return value

    @field_validator("case_max_vpdq_bytes")
    @classmethod
    def _vpdq_fits_a_request(cls, value: int, info: ValidationInfo) -> int:
        # In the request, each frame's quotes are escaped (2 bytes more per ~80), and the
        # case's other hashes come along: a case at the limit must not be a 413.
        limit = info.data.get("max_request_bytes")
        hashes = info.data.get("max_case_hashes")
        if limit is None or hashes is None:
            return value  # those settings are invalid themselves, and said so
        needed = vpdq_request_bytes(value, max_case_hashes=hashes)
        if needed > limit:
            raise ValueError(
                f"{value} bytes of vPDQ frames per case do not fit in a request of "
                f"HAVEN_MAX_REQUEST_BYTES={limit}: raise that to at least {needed}, or lower "
                "this"
            )
        return value

    @field_validator("cap_signing_cert")
    @classmethod
    def _cap_signing(cls, cert: Path | None, info: ValidationInfo) -> Path | None:
        # Checked here so that a missing or mismatched file stops start-up, not the first
        # CAP document. The key is declared first, so it is in `info.data` when it is valid.
        key = info.data.get("cap_signing_key")
        if (key is None) != (cert is None):
            given, missing = ("KEY", "CERT") if cert is None else ("CERT", "KEY")
            raise ValueError(
                f"HAVEN_CAP_SIGNING_{given} is set but HAVEN_CAP_SIGNING_{missing} is not; "
                "set both to sign CAP, or neither"
            )
        if key is not None and cert is not None:
            from alerts.cap_sign import load_cap_signer

            load_cap_signer(key_path=key, cert_path=cert)  # ValueError: says what is wrong
        return cert

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, url: str | None) -> str | None:
        # Checked here: a typo would otherwise surface later as a traceback quoting the URL,
        # password included. The message names the scheme only.
        if url is None or url == "":
            return None
        scheme = url.partition("://")[0] if "://" in url else ""
        if scheme not in REDIS_SCHEMES:
            raise ValueError(
                "is not a Redis URL (expected one starting with "
                + ", ".join(f"{s}://" for s in sorted(REDIS_SCHEMES))
                + ")"
            )
        return url

    @field_validator("database_url")
    @classmethod
    def _psycopg3_driver(cls, url: str) -> str:
        # Operators paste plain `postgresql://` URLs; Haven speaks psycopg 3 only.
        for prefix in ("postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url

    @field_validator("instance_path")
    @classmethod
    def _absolute(cls, path: Path) -> Path:
        return path.expanduser().absolute()

    @model_validator(mode="after")
    def _under_instance_path(self) -> Settings:
        # Defaults that name files follow instance_path; values set explicitly stay.
        if "database_url" not in self.model_fields_set:
            self.database_url = f"sqlite:///{self.instance_path / 'haven.db'}"
        if "audience_snapshot_dir" not in self.model_fields_set:
            self.audience_snapshot_dir = self.instance_path
        return self

    @property
    def beat_schedule_path(self) -> Path:
        """Where Celery beat keeps the times of its last runs."""
        return self.instance_path / "celerybeat-schedule"

    @property
    def is_sqlite(self) -> bool:
        """Whether the database is the embedded SQLite one."""
        return self.database_url.startswith("sqlite")


def is_web_address(url: str) -> bool:
    """Whether `url` is an absolute http(s) address with a host and no spaces."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:  # a malformed IPv6 host, an invalid port
        return False
    return parts.scheme in ("http", "https") and bool(host) and " " not in url


def contact_kind(contact: str) -> str | None:
    """What an operator's contact is: "email", "url" or "phone"; None if none of them."""
    if re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", contact):
        return "email"
    if is_web_address(contact):
        return "url"
    if re.fullmatch(r"\+?[0-9][0-9 ()./-]{4,30}", contact):
        return "phone"
    return None


def vpdq_request_bytes(case_max_vpdq_bytes: int, *, max_case_hashes: int) -> int:
    """The request size a case needs at the vPDQ byte limit: 5% for the escaped quotes of
    its frames (2 bytes in about 80), and 256 bytes for each other hash it may hold."""
    return case_max_vpdq_bytes * 21 // 20 + max_case_hashes * 256


SMS_PROVIDER_NAMES = ("twilio", "vonage")


def parse_provider_shares(value: str) -> dict[str, int]:
    """HAVEN_SMS_PROVIDERS ("twilio:70,vonage:30") as {provider: share in percent}."""
    shares: dict[str, int] = {}
    for part in value.split(","):
        name, _, share = part.strip().partition(":")
        name = name.strip().lower()
        if name not in SMS_PROVIDER_NAMES or name in shares or not share.strip().isdigit():
            raise ValueError(
                f'{value!r} is not a share per provider like "twilio:70,vonage:30" '
                f"(providers: {', '.join(SMS_PROVIDER_NAMES)}; shares 0 to 100)"
            )
        shares[name] = int(share)
    if any(s > 100 for s in shares.values()) or not any(shares.values()):
        raise ValueError(f"{value!r}: each share is 0 to 100, and one at least is above 0")
    return shares


def environment_variable(field_name: str) -> str:
    """The environment variable that sets `field_name` (a field name or its alias)."""
    field = Settings.model_fields.get(field_name)
    if field is None:
        return field_name  # already an alias, such as TWILIO_AUTH_TOKEN
    return field.alias or f"{Settings.model_config.get('env_prefix', '')}{field_name.upper()}"


def describe_errors(error: ValidationError) -> list[str]:
    """One line per invalid setting, naming its environment variable and what is wrong."""
    lines = []
    for problem in error.errors():
        name = str(problem["loc"][0]) if problem["loc"] else "?"
        variable = environment_variable(name)
        if problem["type"] == "value_error":
            # Our own validators' messages already quote the value.
            lines.append(f"{variable}: {problem['ctx']['error']}")
        elif name in _SECRET_FIELDS or variable.startswith(("TWILIO_", "VONAGE_")):
            lines.append(f"{variable}: {problem['msg']}")
        else:
            lines.append(f"{variable}: {problem['msg']} (got {problem['input']!r})")
    return lines


def get_settings() -> Settings:
    """The settings of the current app (set by `create_app`)."""
    settings: Settings = current_app.extensions["haven.settings"]
    return settings
