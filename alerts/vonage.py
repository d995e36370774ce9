"""Vonage's SMS API, a second SMS provider behind `SmsProvider`, with the official SDK.

The SDK (vonage 4) sends through `client.sms.send(SmsMessage(...))` and signs nothing of what
Vonage sends back: its delivery receipts and inbound messages carry a `sig` that
`verify_signature` checks with the SDK's own `Auth.check_signature`. Vonage's answers map onto
Haven's accepted/retry/failed as Twilio's do (docs/sms.md, "VonageSmsProvider").
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests
from requests.adapters import HTTPAdapter
from vonage import Auth, HttpClientOptions, Vonage
from vonage_http_client.errors import HttpRequestError
from vonage_sms import SmsError, SmsMessage

from alerts.providers import (
    PERMANENT_CODES,
    SendResult,
    SmsProvider,
    retry_after_seconds,
)
from alerts.sms import segments
from haven.metrics import timed_send

if TYPE_CHECKING:
    from haven.settings import Settings

log = logging.getLogger(__name__)

PROVIDER = "vonage"
STATUS_PATH = "/webhooks/vonage/status"
# Vonage's send statuses (developer.vonage.com/en/api-errors/sms). These say that Vonage took
# nothing and to try later: throttled, internal error, too many connections.
TRY_LATER = frozenset({"1", "5", "10"})
# These say Haven's own account is at fault, not the message: invalid credentials, account
# barred, out of credit, invalid signature. Retried until the alert expires, loudly.
ACCOUNT = frozenset({"4", "8", "9", "14"})
# Vonage keeps trying to deliver for `ttl` milliseconds, which must lie in this range.
TTL_RANGE_MS = (20_000, 604_800_000)
CALLBACK_LENGTH = 100  # the SDK's limit on SmsMessage.callback

# A delivery receipt's status, as the Twilio status callback would say it (None: no news).
RECEIPT_STATUSES: dict[str, str | None] = {
    "accepted": "sent",
    "buffered": "sent",
    "delivered": "delivered",
    "expired": "undelivered",
    "failed": "undelivered",
    "rejected": "failed",
    "unknown": None,
}


def send_code(status: str) -> str:
    """Haven's error code for a Vonage send status: "vonage-7"."""
    return f"vonage-{status}"[:16]


def receipt_code(err_code: str) -> str | None:
    """Haven's error code for a delivery receipt's err-code ("0": none): "vonage-dlr-3"."""
    return None if err_code in ("", "0") else f"vonage-dlr-{err_code}"[:16]


class _Silent(logging.Filter):
    """Drops the SDK's own records: at DEBUG they hold the Authorization header, the number
    and the text, and at WARNING every refusal's body and URL. Haven logs its own lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        return False


_SILENT = _Silent()


class VonageSmsProvider(SmsProvider):
    """Sends SMS through Vonage's SMS API with the official SDK.

    One SDK client per thread: its HTTP client shares one requests.Session and keeps the last
    response (which is where a refused message's status is read), neither safe across threads.
    `callback_url` is where Vonage posts delivery receipts: the dispatcher asks for a status
    report by passing a `status_callback` (Twilio's route), and Vonage gets its own route.
    """

    def __init__(
        self,
        api_key: str,
        api_secret: str,
        *,
        from_: str,
        callback_url: str | None = None,
        rest_host: str = "rest.nexmo.com",
        ca_bundle: Path | None = None,
        timeout: int = 10,
    ) -> None:
        if not from_:
            raise ValueError("Vonage needs a sender (VONAGE_FROM)")
        if callback_url is not None and len(callback_url) > CALLBACK_LENGTH:
            raise ValueError(
                f"Vonage takes a callback URL of at most {CALLBACK_LENGTH} characters: "
                f"{callback_url!r} (HAVEN_PUBLIC_URL) is longer"
            )
        self._api_key = api_key
        self._api_secret = api_secret
        self._from = from_.removeprefix("+")
        self._callback_url = callback_url
        self._rest_host = rest_host
        self._ca_bundle = ca_bundle
        self._timeout = timeout
        self._local = threading.local()
        logging.getLogger("vonage").addFilter(_SILENT)  # a no-op once added

    def __repr__(self) -> str:
        return f"<VonageSmsProvider {self._api_key}>"  # never the secrets

    def _client(self) -> Vonage:
        if not hasattr(self._local, "client"):
            # With the API secret (HTTP Basic), not the signature secret: the SDK signs the
            # message's unset fields as "None", which requests then leaves out of the form, so
            # a signed request never matches its signature.
            auth = Auth(api_key=self._api_key, api_secret=self._api_secret)
            client = Vonage(
                auth, HttpClientOptions(rest_host=self._rest_host, timeout=self._timeout)
            )
            if self._ca_bundle is not None:
                _trust(client, self._ca_bundle)
            self._local.client = client
        found: Vonage = self._local.client
        return found

    @timed_send("sms")
    def send_sms(
        self, *, to: str, body: str, validity_seconds: int | None, status_callback: str | None
    ) -> SendResult:
        """Send one message; map Vonage's answer to accepted, retry or failed."""
        client = self._client()
        options: dict[str, Any] = {
            "to": to.removeprefix("+"),
            "from_": self._from,
            "text": body,
            "type": "unicode" if segments(body).encoding == "UCS-2" else "text",
        }
        if validity_seconds is not None:
            options["ttl"] = min(max(validity_seconds * 1000, TTL_RANGE_MS[0]), TTL_RANGE_MS[1])
        if status_callback:
            options["status_report_req"] = True
            options["callback"] = self._callback_url or status_callback
        try:
            answer = client.sms.send(SmsMessage(**options))
        except SmsError:
            # A status other than 0: the SDK keeps only its text, so read the answer itself.
            return self._refused(_parts(client))
        except HttpRequestError as error:
            return self._http_error(error.response)
        except (OSError, TypeError, KeyError, ValueError) as error:
            # requests' connection errors and timeouts are OSErrors; the others, an answer
            # that is not Vonage's JSON. Vonage may have taken the message all the same.
            log.warning("Vonage unreachable, will retry: %s", type(error).__name__)
            return SendResult("retry", provider=PROVIDER)
        first = answer.messages[0]
        return SendResult(
            "accepted", status="queued", provider_id=first.message_id, provider=PROVIDER
        )

    def _refused(self, parts: list[dict[str, Any]]) -> SendResult:
        """A message Vonage answered with a status other than 0 (for one part of it at least:
        a long message goes as several, each with its own status)."""
        statuses = [str(part.get("status", "")) for part in parts] or ["?"]
        status = next(s for s in (*statuses, "?") if s != "0")
        code = send_code(status)
        some_sent = "0" in statuses  # the person may have got part of it
        if status in ACCOUNT:
            log.error("Vonage refused Haven's account (status %s)", status)
            return SendResult("retry", error_code=code, spends_attempt=some_sent, provider=PROVIDER)
        if status in TRY_LATER:
            log.warning("Vonage busy (status %s), will retry", status)
            return SendResult("retry", error_code=code, spends_attempt=some_sent, provider=PROVIDER)
        if code not in PERMANENT_CODES:
            log.warning("Vonage refused a message (status %s)", status)
        return SendResult("failed", error_code=code, provider=PROVIDER)

    def _http_error(self, response: requests.Response) -> SendResult:
        status = response.status_code
        code = str(status)
        if status in (401, 403):
            log.error("Vonage refused Haven's credentials (HTTP %d)", status)
            return SendResult("retry", error_code=code, spends_attempt=False, provider=PROVIDER)
        if status == 429 or status >= 500:
            log.warning("Vonage busy (HTTP %d), will retry", status)
            # As with Twilio: after a 5xx other than 503 the message may exist.
            return SendResult(
                "retry",
                error_code=code,
                retry_after=retry_after_seconds(response.headers.get("Retry-After")),
                spends_attempt=status not in (429, 503),
                provider=PROVIDER,
            )
        log.warning("Vonage refused a message (HTTP %d)", status)
        return SendResult("failed", error_code=code, provider=PROVIDER)


class _TrustingAdapter(HTTPAdapter):
    """The SDK's HTTPS adapter, verifying against one CA bundle: a session's own `verify`
    loses to REQUESTS_CA_BUNDLE (psf/requests#3829), an adapter's does not."""

    def __init__(self, ca_bundle: Path, like: HTTPAdapter) -> None:
        super().__init__(
            pool_connections=like._pool_connections,
            pool_maxsize=like._pool_maxsize,
            max_retries=like.max_retries,
        )
        self.ca_bundle = str(ca_bundle)

    def send(self, request: Any, *args: Any, **kwargs: Any) -> requests.Response:
        """Send with certificates verified against the bundle (never switched off)."""
        kwargs["verify"] = self.ca_bundle
        return super().send(request, *args, **kwargs)


def _trust(client: Vonage, ca_bundle: Path) -> None:
    # The SDK builds https://{rest_host} URLs and takes no CA setting.
    session: requests.Session = client.http_client._session
    like = session.get_adapter("https://x")
    assert isinstance(like, HTTPAdapter)
    session.mount("https://", _TrustingAdapter(ca_bundle, like))


def _parts(client: Vonage) -> list[dict[str, Any]]:
    """The per-part answers of the last request of this thread's client."""
    try:
        parts = client.http_client.last_response.json()["messages"]
    except (AttributeError, KeyError, TypeError, ValueError):
        return []
    return [p for p in parts if isinstance(p, dict)] if isinstance(parts, list) else []


def verify_signature(
    params: Mapping[str, str], *, api_key: str | None, secret: str, method: str
) -> bool:
    """Whether a webhook's parameters carry Vonage's signature (`sig`, over every other
    parameter and the `timestamp`) made with the signature secret, for this API key."""
    if not params.get("sig") or not params.get("timestamp"):
        return False
    if api_key and params.get("api-key", api_key) != api_key:
        return False
    auth = Auth(api_key=api_key or "-", signature_secret=secret, signature_method=method)
    return bool(auth.check_signature(dict(params)))


def receipt_status(status: str, err_code: str) -> tuple[str | None, str | None]:
    """A delivery receipt as Haven's (status, error code): (None, None) when it says nothing
    new ("unknown"). A receipt's permanent err-code (opted out, no such number) is in
    alerts.providers.PERMANENT_CODES."""
    reported = RECEIPT_STATUSES.get(status)
    if reported is None:
        return None, None
    code = receipt_code(err_code) if reported in ("undelivered", "failed") else None
    return reported, code


def make_vonage_provider(settings: Settings) -> VonageSmsProvider | None:
    """Vonage when its API key, secret and sender are set; None when none of them is."""
    key, secret, sender = settings.vonage_api_key, settings.vonage_api_secret, settings.vonage_from
    if not (key or secret):
        return None
    if not (key and secret and sender):
        raise ValueError("Vonage needs VONAGE_API_KEY, VONAGE_API_SECRET and VONAGE_FROM")
    return VonageSmsProvider(
        key,
        secret,
        from_=sender,
        callback_url=settings.public_url.rstrip("/") + STATUS_PATH,
        rest_host=settings.vonage_rest_host,
        ca_bundle=settings.vonage_ca_bundle,
    )
