"""Delivery providers behind one small interface, chosen by settings.

SMS goes through Twilio when its credentials are set, and to the log otherwise (`make run`
needs no account). Other channels go through Apprise. The dispatcher sees only `SendResult`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import datetime
import email.utils
import itertools
import json
import logging
import platform
import re
import threading
import time
import weakref
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TYPE_CHECKING, Any, Literal, Protocol
from urllib.parse import quote_plus, urlencode, urlsplit

import aiohttp
import apprise
from apprise.attachment.memory import AttachMemory
from apprise.result import AppriseResultStatus
from twilio import __version__ as twilio_version
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.base.version import Version
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response as TwilioResponse
from twilio.rest import Client

from haven.metrics import SEND_SECONDS, timed_send

if TYPE_CHECKING:
    from haven.settings import Settings

log = logging.getLogger(__name__)

Outcome = Literal["accepted", "retry", "failed"]

# Twilio error codes (https://www.twilio.com/docs/api/errors).
RETRYABLE_CODES = frozenset({"30001", "30003", "30008"})  # queue overflow, unreachable, unknown
OPTED_OUT = "21610"  # the recipient replied STOP: opt them out
UNDELIVERABLE_CODES = frozenset({"21211", "30005", "30006"})  # invalid, unknown, landline
# Vonage's (alerts/vonage.py), prefixed so that none is taken for one of Twilio's: send status
# 7 (number barred), receipt err-codes 4 (call barred by the user) and 9 (the user asked for no
# more messages from this sender): opt them out; receipt err-code 3 (absent subscriber,
# permanent): no such mobile number any more.
VONAGE_OPTED_OUT_CODES = frozenset({"vonage-7", "vonage-dlr-4", "vonage-dlr-9"})
VONAGE_UNDELIVERABLE_CODES = frozenset({"vonage-dlr-3"})
OPTED_OUT_CODES = VONAGE_OPTED_OUT_CODES | {OPTED_OUT}
PERMANENT_CODES = UNDELIVERABLE_CODES | VONAGE_UNDELIVERABLE_CODES | OPTED_OUT_CODES
# Twilio keeps an unsent message queued for at most this long (seconds); 36000 by default.
VALIDITY_RANGE = (1, 36_000)
# Apprise error codes in SendResult (no more than Delivery.error_code's 16 characters).
APPRISE_FAILED = "apprise"
APPRISE_BAD_URL = "apprise-url"
APPRISE_DEADLINE = "apprise-deadline"
# What the async path says about itself, as the twilio client does (plus "aiohttp").
_USER_AGENT = (
    f"twilio-python/{twilio_version} ({platform.system()} {platform.machine()}) "
    f"Python/{platform.python_version()} aiohttp/{aiohttp.__version__}"
)
_UNABLE = "Unable to create record"  # the twilio client's words for a refused create


@dataclasses.dataclass(frozen=True)
class SendResult:
    """What a provider said about one message.

    accepted: the provider took it (status is its first status: queued or sent);
    retry: try again later (after `retry_after` seconds if the provider said so);
    failed: permanent; `error_code` says why, and `reason` in words where there is more to say.
    """

    outcome: Outcome
    status: str | None = None
    provider_id: str | None = None
    error_code: str | None = None
    retry_after: float | None = None
    reason: str | None = None
    # False when the provider answered that it did not take the message and to try later
    # (HTTP 429 or 5xx): an outage must not use up an AMBER alert's attempts.
    spends_attempt: bool = True
    # Which provider answered ("twilio", "vonage"), where several share the traffic
    # (alerts/failover.py): dispatch records it in Delivery.provider.
    provider: str | None = None


class SmsProvider(Protocol):
    """Sends one SMS, blocking (`send_sms`) or on an event loop (`send_sms_async`).

    The dispatcher sends with `send_sms_async`, many messages in flight at once. A provider
    that can only block may subclass this protocol and inherit the adapter below, which runs
    `send_sms` in a thread; a provider with a non-blocking client implements it natively.
    """

    def send_sms(
        self, *, to: str, body: str, validity_seconds: int | None, status_callback: str | None
    ) -> SendResult:
        """Hand one message to the provider."""
        ...

    async def send_sms_async(
        self, *, to: str, body: str, validity_seconds: int | None, status_callback: str | None
    ) -> SendResult:
        """Hand one message to the provider without blocking the event loop: by default,
        `send_sms` in a thread of the loop's default executor."""
        return await asyncio.to_thread(
            self.send_sms,
            to=to,
            body=body,
            validity_seconds=validity_seconds,
            status_callback=status_callback,
        )


async def send_sms_async(
    provider: SmsProvider,
    *,
    to: str,
    body: str,
    validity_seconds: int | None,
    status_callback: str | None,
) -> SendResult:
    """`provider.send_sms_async`, or its `send_sms` in a thread for a provider that matches
    the protocol without subclassing it and has no async send of its own."""
    native = getattr(provider, "send_sms_async", None)
    if native is not None:
        result: SendResult = await native(
            to=to, body=body, validity_seconds=validity_seconds, status_callback=status_callback
        )
        return result
    return await SmsProvider.send_sms_async(
        provider,
        to=to,
        body=body,
        validity_seconds=validity_seconds,
        status_callback=status_callback,
    )


@dataclasses.dataclass(frozen=True)
class Attachment:
    """A file that goes with a channel message, such as a child's photo: its bytes, and the
    URL anyone may fetch it from (None when it is not public)."""

    name: str
    media_type: str
    data: bytes = dataclasses.field(repr=False)
    url: str | None = None


class ChannelProvider(Protocol):
    """Delivers one notification to an Apprise URL."""

    def notify(
        self, *, url: str, title: str, body: str, attachments: Sequence[Attachment] = ()
    ) -> SendResult:
        """Deliver one notification, with `attachments` as files."""
        ...


class LogSmsProvider:
    """Writes each SMS to the log: for `make run` without Twilio credentials."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)

    def send_sms(
        self, *, to: str, body: str, validity_seconds: int | None, status_callback: str | None
    ) -> SendResult:
        """Log the message and report it sent."""
        log.info("SMS to %s: %s", to, body)
        return SendResult("accepted", status="sent", provider_id=f"log-{next(self._ids)}")

    async def send_sms_async(
        self, *, to: str, body: str, validity_seconds: int | None, status_callback: str | None
    ) -> SendResult:
        """Log the message and report it sent (logging does not wait on the network)."""
        return self.send_sms(
            to=to, body=body, validity_seconds=validity_seconds, status_callback=status_callback
        )


class _HttpClient(TwilioHttpClient):  # type: ignore[misc]  # twilio ships no type hints
    """The twilio client's own HTTP client, with two changes: every request goes to
    `api_base` when one is given (the twilio client has no base-URL setting; its domains
    hard-code https://<product>.twilio.com), and it keeps the last response's headers for
    Retry-After. It logs no URLs or headers (the stock one logs both at INFO)."""

    def __init__(self, *, api_base: str | None, timeout: float) -> None:
        super().__init__(timeout=timeout, logger=log)
        self.api_base = api_base.rstrip("/") if api_base else None
        self.last_headers: dict[str, str] = {}

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        """Send one request, to `api_base` if set."""
        if self.api_base:
            parts = urlsplit(url)
            url = self.api_base + parts.path + (f"?{parts.query}" if parts.query else "")
        self.last_headers = {}
        response = super().request(method, url, *args, **kwargs)
        self.last_headers = dict(response.headers or {})
        return response

    def log_request(self, kwargs: dict[str, Any]) -> None:
        """Log nothing: the URL names the account."""

    def log_response(self, status_code: int, response: Any) -> None:
        """Log nothing."""


def _close_session(loop: asyncio.AbstractEventLoop, session: aiohttp.ClientSession) -> None:
    """Close an async provider's connection pool from outside its loop, briefly."""
    if session.closed or loop.is_closed() or not loop.is_running():
        return
    with contextlib.suppress(RuntimeError):
        if asyncio.get_running_loop() is loop:  # collected in the loop's own thread
            loop.create_task(session.close())
            return
    with contextlib.suppress(Exception):
        asyncio.run_coroutine_threadsafe(session.close(), loop).result(timeout=2)


def _retry_after(headers: dict[str, str]) -> float | None:
    """Retry-After in seconds, given as seconds or as an HTTP date."""
    return retry_after_seconds(
        next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    )


def retry_after_seconds(value: str | None) -> float | None:
    """A Retry-After header's wait in seconds: given as seconds or as an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    return max(0.0, (when - datetime.datetime.now(datetime.UTC)).total_seconds())


def clamp_validity(seconds: int) -> int:
    """A validity period Twilio accepts (1 to 36000 seconds)."""
    return min(max(seconds, VALIDITY_RANGE[0]), VALIDITY_RANGE[1])


class TwilioSmsProvider(SmsProvider):
    """Sends SMS through Twilio's Messages API with the official client.

    One client per thread: the twilio client shares one requests.Session and records each
    request and response on itself, neither of which is safe across threads.
    """

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        messaging_service_sid: str | None = None,
        from_number: str | None = None,
        api_base: str | None = None,
        timeout: float = 10,
        connections: int = 100,
    ) -> None:
        if not messaging_service_sid and not from_number:
            raise ValueError("Twilio needs a messaging service SID or a from number")
        self._account_sid = account_sid
        self._auth_token = auth_token
        self._sender: dict[str, str] = (
            {"messaging_service_sid": messaging_service_sid}
            if messaging_service_sid
            else {"from_": from_number or ""}
        )
        self._api_base = api_base
        self._timeout = timeout
        self._local = threading.local()
        # The async path: form fields as Twilio names them, and one pool per event loop.
        self._form_sender: dict[str, str] = (
            {"MessagingServiceSid": messaging_service_sid}
            if messaging_service_sid
            else {"From": from_number or ""}
        )
        base = (api_base or "https://api.twilio.com").rstrip("/")
        self._messages_url = f"{base}/2010-04-01/Accounts/{account_sid}/Messages.json"
        self._connections = connections
        self._encoded: dict[tuple[str, int | None, str | None], str] = {}
        self._sessions: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, aiohttp.ClientSession
        ] = weakref.WeakKeyDictionary()

    def __repr__(self) -> str:
        return f"<TwilioSmsProvider {self._account_sid}>"  # never the token

    def _client(self) -> tuple[Any, _HttpClient]:
        if not hasattr(self._local, "client"):
            http = _HttpClient(api_base=self._api_base, timeout=self._timeout)
            self._local.http = http
            self._local.client = Client(self._account_sid, self._auth_token, http_client=http)
        return self._local.client, self._local.http

    @timed_send("sms")
    def send_sms(
        self, *, to: str, body: str, validity_seconds: int | None, status_callback: str | None
    ) -> SendResult:
        """Create one Message; map Twilio's answer to accepted, retry or failed."""
        client, http = self._client()
        options: dict[str, Any] = {"to": to, "body": body, **self._sender}
        if validity_seconds is not None:
            options["validity_period"] = clamp_validity(validity_seconds)
        if status_callback:
            options["status_callback"] = status_callback
        try:
            message = client.messages.create(**options)
        except (TwilioRestException, TwilioServiceException) as error:
            # Both carry the HTTP status and Twilio's code (the second for RFC 9457 bodies).
            return self._refused(error, http.last_headers)
        except (OSError, ValueError) as error:
            # requests' connection errors and timeouts are OSErrors; a ValueError is a
            # response that is not JSON. Twilio may have taken the message all the same, so
            # a retry can duplicate it: better twice than never for an AMBER alert.
            log.warning("Twilio unreachable, will retry: %s", type(error).__name__)
            return SendResult("retry")
        return SendResult("accepted", status=message.status, provider_id=message.sid)

    async def send_sms_async(
        self, *, to: str, body: str, validity_seconds: int | None, status_callback: str | None
    ) -> SendResult:
        """Create one Message without blocking, on a keep-alive connection of this event
        loop's pool; map Twilio's answer exactly as `send_sms` does.

        The Messages endpoint alone goes through aiohttp here: the twilio client's own async
        path (`create_async`) costs several times the CPU per message (docs/dispatch.md, "The
        send path"). Refusals are turned into the twilio client's own exceptions
        (`Version.exception`) and mapped by `_refused`, as for `send_sms`.
        """
        # A dispatch sends one body to many numbers: the rest of the form is encoded once.
        key = (body, validity_seconds, status_callback)
        rest = self._encoded.get(key)
        if rest is None:
            form: dict[str, str] = {"Body": body, **self._form_sender}
            if validity_seconds is not None:
                form["ValidityPeriod"] = str(clamp_validity(validity_seconds))
            if status_callback:
                form["StatusCallback"] = status_callback
            rest = self._encoded[key] = "&" + urlencode(form)
            if len(self._encoded) > 64:  # many versions and languages: keep the last few
                with contextlib.suppress(KeyError, RuntimeError, StopIteration):
                    self._encoded.pop(next(iter(self._encoded)))
        data = ("To=" + quote_plus(to) + rest).encode()
        started = time.perf_counter()
        try:
            async with self._session().post(self._messages_url, data=data) as response:
                status, text = response.status, await response.text()
                headers = dict(response.headers)
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as error:
            # As in send_sms: Twilio may have taken the message before the connection broke.
            log.warning("Twilio unreachable, will retry: %s", type(error).__name__)
            return SendResult("retry")
        finally:
            SEND_SECONDS.labels(channel="sms").observe(time.perf_counter() - started)
        if 200 <= status < 300:
            try:
                message = json.loads(text)
                return SendResult("accepted", status=message["status"], provider_id=message["sid"])
            except (ValueError, KeyError, TypeError):
                log.warning("Twilio answered %d with no message in it, will retry", status)
                return SendResult("retry")
        refusal = Version.exception(
            "POST", self._messages_url, TwilioResponse(status, text, headers), _UNABLE
        )
        return self._refused(refusal, headers)

    def _session(self) -> aiohttp.ClientSession:
        """This event loop's connection pool (aiohttp binds a session to its loop)."""
        loop = asyncio.get_running_loop()
        session = self._sessions.get(loop)
        if session is None or session.closed:
            credentials = f"{self._account_sid}:{self._auth_token}".encode()
            session = aiohttp.ClientSession(
                # As the blocking client's: to connect, and between bytes of the answer. Not
                # in total: a send waiting for a free connection of the pool is not late, and
                # one abandoned after Twilio took it would go out twice.
                timeout=aiohttp.ClientTimeout(
                    total=None, sock_connect=self._timeout, sock_read=self._timeout
                ),
                connector=aiohttp.TCPConnector(limit=self._connections),
                headers={
                    "Authorization": "Basic " + base64.b64encode(credentials).decode(),
                    "User-Agent": _USER_AGENT,
                    "Accept": "application/json",
                    "Content-Type": "application/x-www-form-urlencoded",
                },
            )
            self._sessions[loop] = session
            # Closed with the provider (or at exit) on its loop, if that still runs.
            weakref.finalize(self, _close_session, loop, session)
        return session

    async def aclose(self) -> None:
        """Close the running loop's connection pool (the next send opens a new one)."""
        session = self._sessions.pop(asyncio.get_running_loop(), None)
        if session is not None:
            await session.close()

    def _refused(self, error: Any, headers: dict[str, str]) -> SendResult:
        status = int(error.status)
        code = str(error.code) if error.code else str(status)
        if status in (401, 403):
            # Haven's own credentials, not this message: a rotated or suspended account must
            # not fail a whole alert. Retried until it expires, loudly.
            log.error("Twilio refused Haven's credentials (HTTP %d, code %s)", status, code)
            return SendResult("retry", error_code=code, spends_attempt=False)
        if status == 429 or status >= 500 or code in RETRYABLE_CODES:
            wait = _retry_after(headers)
            log.warning("Twilio busy (HTTP %d, code %s), will retry", status, code)
            # Only 429 and 503 say that Twilio took nothing; after any other 5xx the message
            # may exist, so the retry spends an attempt and the cap bounds the duplicates.
            took_nothing = status in (429, 503)
            return SendResult(
                "retry", error_code=code, retry_after=wait, spends_attempt=not took_nothing
            )
        if code not in PERMANENT_CODES:
            log.warning("Twilio refused a message (HTTP %d, code %s)", status, code)
        return SendResult("failed", error_code=code)


_HOST_SCHEMES = frozenset(
    {"json", "jsons", "xml", "xmls", "form", "forms", "mailto", "mailtos", "ntfy", "ntfys"}
)


def redact(url: str) -> str:
    """An Apprise URL safe to log: its scheme, and its host where that names a server.

    Many Apprise schemes carry a token where a host would be (tgram://<bot token>/...), so
    only schemes known to put a server there keep it.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower() or "?"
    if scheme in _HOST_SCHEMES and parts.hostname:
        return f"{scheme}://{parts.hostname}"
    return f"{scheme}://…"


_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")


class _RedactUrls(logging.Filter):
    """Redacts every URL in Apprise's own log records: it logs a URL it cannot parse whole."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "://" in message:
            record.msg, record.args = _URL.sub(lambda m: redact(m.group()), message), None
        return True


_APPRISE_FILTER = _RedactUrls()


class AppriseChannelProvider:
    """Delivers to one Apprise URL per call, with the outcome of that URL alone, within a hard
    deadline of `deadline` seconds.

    A fresh Apprise object per call: each call's result then holds that URL's outcome only.
    Each call runs in this provider's own small thread pool, never in Apprise's process-wide
    one, and its socket timeouts are capped at half the deadline whatever the URL asks
    (`?cto=900&rto=900`), so a channel that accepts a connection and never answers frees its
    thread: it cannot starve the sends of other channels, nor the sign-ups of new ones.
    """

    def __init__(self, *, deadline: float = 10.0, workers: int = 8) -> None:
        self.deadline = deadline
        self._workers = workers
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        logging.getLogger("apprise").addFilter(_APPRISE_FILTER)  # a no-op once added

    def _executor(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="haven-apprise")
            return self._pool

    @timed_send("apprise")
    def notify(
        self, *, url: str, title: str, body: str, attachments: Sequence[Attachment] = ()
    ) -> SendResult:
        """Send one notification, with `attachments` as files (for the services Apprise can
        attach files on); accepted if Apprise's service reports success.

        A send still unanswered at the deadline is retried (the channel may have taken it:
        each retry spends an attempt); any other failure is final (Apprise cannot say whether
        it would pass later), with Apprise's reason in the log.
        """
        # service_timeout=0: Apprise then calls the service in the calling thread (ours)
        # instead of handing it to its shared pool, where an abandoned call holds a worker.
        service = apprise.Apprise(asset=apprise.AppriseAsset(service_timeout=0))
        if not service.add(url):
            log.warning("not a usable Apprise URL: %s", redact(url))
            return SendResult("failed", error_code=APPRISE_BAD_URL)
        for plugin in service:
            _bound_sockets(plugin, self.deadline / 2)
        attach = None
        if attachments:
            attach = apprise.AppriseAttachment()
            for attachment in attachments:
                attach.add(
                    AttachMemory(  # type: ignore[no-untyped-call]
                        content=attachment.data,
                        name=attachment.name,
                        mimetype=attachment.media_type,
                    )
                )
        future = self._executor().submit(service.notify, body=body, title=title, attach=attach)
        try:
            result = future.result(timeout=self.deadline)
        except FutureTimeout:
            # Still queued behind busy threads, it never started: that costs no attempt, or
            # channels stuck elsewhere would use up this one's.
            never_started = future.cancel()
            log.warning("%s gave no answer within %g s, will retry", redact(url), self.deadline)
            return SendResult(
                "retry",
                error_code=APPRISE_DEADLINE,
                reason=f"no answer within {self.deadline:g} s",
                spends_attempt=not never_started,
            )
        if result.status == AppriseResultStatus.SUCCESS:
            return SendResult("accepted", status="sent")
        reasons = "; ".join(entry.message for entry in result.logs())
        if result.status == AppriseResultStatus.TIMEOUT:
            log.warning("Apprise timed out on %s, will retry: %s", redact(url), reasons)
            return SendResult("retry", error_code=APPRISE_FAILED)
        log.warning("Apprise failed on %s: %s", redact(url), reasons or result.status.name)
        return SendResult("failed", error_code=APPRISE_FAILED)


def _bound_sockets(plugin: Any, seconds: float) -> None:
    """Cap one Apprise service's connect and read timeouts at `seconds`, and let it make one
    attempt only: Haven retries by itself, after a backoff."""
    plugin.socket_connect_timeout = min(float(plugin.socket_connect_timeout), seconds)
    plugin.socket_read_timeout = min(float(plugin.socket_read_timeout), seconds)
    plugin.retry = 0


def make_channel_provider(settings: Settings) -> AppriseChannelProvider:
    """The Apprise provider the settings describe (its per-send deadline)."""
    return AppriseChannelProvider(deadline=settings.channel_send_seconds)


def make_sms_provider(settings: Settings) -> SmsProvider:
    """Twilio or Vonage, whichever has its credentials set, or both behind failover
    (alerts/failover.py, shares from HAVEN_SMS_PROVIDERS); the log when neither has.

    Part of a provider's configuration is an error, not a quiet fall-back to the log.
    """
    from alerts.failover import make_failover  # both import this module
    from alerts.vonage import make_vonage_provider

    twilio = make_twilio_provider(settings)
    vonage = make_vonage_provider(settings)
    if twilio is not None and vonage is not None:
        return make_failover(settings, {"twilio": twilio, "vonage": vonage})
    if twilio is None and vonage is None:
        log.info("no Twilio or Vonage credentials: SMS go to the log")
        return LogSmsProvider()
    return twilio or vonage  # type: ignore[return-value]  # one of them is set


def make_twilio_provider(settings: Settings) -> TwilioSmsProvider | None:
    """Twilio when its account, token and a sender are set; None when none of them is."""
    sid, token = settings.twilio_account_sid, settings.twilio_auth_token
    sender = settings.twilio_messaging_service_sid or settings.twilio_from_number
    if not (sid or token):
        return None
    if not (sid and token and sender):
        raise ValueError(
            "Twilio needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and one of "
            "TWILIO_MESSAGING_SERVICE_SID or TWILIO_FROM_NUMBER"
        )
    return TwilioSmsProvider(
        sid,
        token,
        messaging_service_sid=settings.twilio_messaging_service_sid,
        from_number=settings.twilio_from_number,
        api_base=settings.twilio_api_base,
    )
