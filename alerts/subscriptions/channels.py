"""Apprise channels: email, push and JSON webhooks for people and secondary distributors.

A channel is confirmed through the channel itself: Haven sends a link to the URL, and only
when someone opens it and presses Confirm does the channel become active and its places join
the audience (a link scanner's GET confirms nothing). Each channel has a subscriber of its own
(no phone number) holding its places and language.

URLs carry secrets (passwords, tokens), so they are never logged: `alerts.providers.redact`
gives the form that is. Haven fetches what the URL names, so only an allow-list of schemes is
accepted, and in production never one that reaches Haven itself or a private, loopback or
link-local address (SSRF), IPv4 inside IPv6 included (NAT64, 6to4, Teredo). Redirects are
switched off, and Apprise's own timeouts and retries held to Haven's limits, in the stored URL
and again in the URL each message goes to (`transport_safe_url`). The address is
checked when the channel is added and again before every message (`ChannelSender`), as DNS
may change; a URL that now reaches a private address is not sent to.

Every message to a channel ends with its unsubscribe link (`channel_stop_url`).
"""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
import logging
import socket
from collections.abc import Sequence
from typing import Any, Literal
from urllib.parse import quote, unquote, urlsplit

import apprise
from flask_babel import force_locale, gettext, ngettext
from sqlalchemy.orm import Session

from alerts import store as alerts_store
from alerts.providers import Attachment, ChannelProvider, Outcome, SendResult, redact
from alerts.subscriptions import replies, service, store
from alerts.subscriptions.schemas import ChannelIn
from alerts.subscriptions.tokens import (
    channel_stop_token,
    hash_confirm_token,
    new_confirm_token,
)
from geo.errors import GeoError
from geo.locations import Location, point_location
from haven.db import utcnow, write
from haven.errors import HavenError, InvalidInput, NotFound
from haven.i18n import ALL, DEFAULT_LANGUAGE
from haven.ratelimit import Throttle
from haven.settings import Settings

log = logging.getLogger(__name__)

# What each allowed scheme connects to: a host its URL names ("host"), the SMTP server it names
# ("smtp"), or only its service's own fixed endpoints ("service").
Reach = Literal["host", "smtp", "service"]
SCHEMES: dict[str, Reach] = {
    "mailto": "smtp",
    "mailtos": "smtp",
    "ntfy": "host",  # ntfy.sh itself when the URL names only a topic
    "ntfys": "host",
    "json": "host",
    "jsons": "host",
    "pover": "service",  # Pushover
    "tgram": "service",  # Telegram
    "discord": "service",
    "slack": "service",
}
DEFAULT_PORTS = {"mailto": 25, "mailtos": 587, "ntfy": 80, "json": 80, "ntfys": 443, "jsons": 443}
CONFIRM_DAYS = 7
CONFIRM_PATH = "/alerts/channels/confirm/"
STOP_PATH = "/alerts/channels/stop/"
# Apprise's own transport settings, which a URL may set (`?cto=900&rto=900&retry=10`), are
# capped or fixed on the URL Haven stores and again on the URL it sends to: an abandoned call
# keeps a thread for as long as they allow.
MAX_CONNECT_SECONDS = 5.0
MAX_READ_SECONDS = 10.0
# How a message carries files (a child's photo): email attaches them; ntfy links the first
# public one (its `attach`), which ntfy's apps fetch, so that a ntfy server without an
# attachment store takes the message all the same. Other channels carry the page's link only.
ATTACHING_SCHEMES = frozenset({"mailto", "mailtos"})
LINKING_SCHEMES = frozenset({"ntfy", "ntfys"})
# Arguments that make Apprise open something other than the checked host: a message template
# (a file or any URL), PGP key files, and the WKD key look-up at the recipient's domain.
WIDENING_ARGS = frozenset({"template", "pgppub", "pgpprv", "wkd"})

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class ChannelUnreachable(HavenError):
    """The channel did not accept the confirmation message."""

    status = 422
    code = "channel_unreachable"


class LinkExpired(HavenError):
    """A confirmation link older than CONFIRM_DAYS."""

    status = 410
    code = "link_expired"


@dataclasses.dataclass(frozen=True)
class UrlPolicy:
    """Where channels may point: never at Haven; at private addresses only in tests."""

    public_url: str
    allow_private: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> UrlPolicy:
        """The policy in force. `allow_private_channel_hosts` is for tests on loopback only."""
        return cls(settings.public_url, settings.allow_private_channel_hosts)


def _addresses(host: str) -> set[Address]:
    name = host.strip("[]").rstrip(".").lower()
    try:
        return {ipaddress.ip_address(name)}
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as exc:
        raise InvalidInput(
            f"The host {name!r} cannot be found.", code="channel_host", details={"host": name}
        ) from exc
    return {ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos}


_NAT64 = (
    ipaddress.IPv6Network("64:ff9b::/96"),  # the well-known prefix (RFC 6052)
    ipaddress.IPv6Network("64:ff9b:1::/48"),  # local use (RFC 8215)
)
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # deprecated ::a.b.c.d


def _embedded(address: Address) -> set[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries: mapped (::ffff:a.b.c.d), 6to4 (2002::/16),
    Teredo (server and client), NAT64 and IPv4-compatible (::a.b.c.d) forms."""
    if isinstance(address, ipaddress.IPv4Address):
        return set()
    found: set[ipaddress.IPv4Address] = set()
    if address.ipv4_mapped is not None:
        found.add(address.ipv4_mapped)
    if address.sixtofour is not None:
        found.add(address.sixtofour)
    if address.teredo is not None:
        found.update(address.teredo)  # the client is already un-XORed
    if address in _IPV4_COMPATIBLE or any(address in net for net in _NAT64):
        found.add(ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF))
    return found


def _spellings(addresses: set[Address]) -> set[Address]:
    """The addresses and every IPv4 address they carry."""
    return addresses | {v4 for a in addresses for v4 in _embedded(a)}


def _is_public(address: Address) -> bool:
    # A NAT64 or 6to4 gateway connects to the IPv4 address inside, so both must be public.
    # Local-use NAT64 (64:ff9b:1::/48) is a private network whatever it embeds.
    if isinstance(address, ipaddress.IPv6Address) and address in _NAT64[1]:
        return False
    return all(a.is_global and not a.is_multicast for a in _spellings({address}))


def _is_local(address: Address) -> bool:
    """This machine: loopback, or the unspecified address (0.0.0.0, ::), which connects here."""
    return address.is_loopback or address.is_unspecified


def _refuse_own(name: str, port: int, policy: UrlPolicy, addresses: set[Address]) -> None:
    parts = urlsplit(policy.public_url)
    own_host = (parts.hostname or "").lower()
    own_port = parts.port or (443 if parts.scheme == "https" else 80)
    # Tests run their fakes on Haven's loopback address, so there only Haven's port is off-limits.
    if policy.allow_private and port != own_port:
        return
    same = name == own_host
    if not same and addresses and own_host:
        candidates = _spellings(addresses)
        try:
            own = _spellings(_addresses(own_host))
        except InvalidInput:
            own = set()
        # Every spelling of this machine (127.0.0.2, [::1], [::ffff:7f00:1], 0.0.0.0) reaches
        # a Haven that listens on loopback.
        same = bool(candidates & own) or (
            any(_is_local(a) for a in own) and any(_is_local(a) for a in candidates)
        )
    if same:
        raise InvalidInput(
            "A channel cannot point at Haven itself.",
            code="channel_private",
            details={"host": name},
        )


def _check_host(host: str, port: int, policy: UrlPolicy) -> set[Address]:
    name = host.strip("[]").rstrip(".").lower()
    _refuse_own(name, port, policy, set())
    addresses = _addresses(name)
    _refuse_own(name, port, policy, addresses)
    if not policy.allow_private and not all(_is_public(a) for a in addresses):
        raise InvalidInput(
            f"The host {name!r} is a private, loopback or reserved address.",
            code="channel_private",
            details={"host": name},
        )
    return addresses


def check_host(host: str, port: int, policy: UrlPolicy) -> set[Address]:
    """The addresses `host` resolves to, all of which the policy lets Haven connect to at
    `port`; InvalidInput otherwise: channel_host (no such host), channel_private (Haven
    itself, or a private address). Distributor URLs (alerts/distributors/webhook.py) and
    children's photo URLs (alerts/photos.py, which connects to these very addresses) are
    checked by it too."""
    return _check_host(host, port, policy)


def _plugin(url: str) -> Any:
    """The Apprise service a URL on the allow-list describes, its transport within Haven's
    limits; InvalidInput (channel_scheme, channel_url) otherwise."""
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if scheme not in SCHEMES:
        raise InvalidInput(
            f"Channel URLs must start with one of {', '.join(s + '://' for s in SCHEMES)}.",
            code="channel_scheme",
        )
    plugin = apprise.Apprise.instantiate(url)
    if plugin is None:
        raise InvalidInput(f"Apprise cannot read this {scheme}:// URL.", code="channel_url")
    plugin.socket_connect_timeout = min(float(plugin.socket_connect_timeout), MAX_CONNECT_SECONDS)
    plugin.socket_read_timeout = min(float(plugin.socket_read_timeout), MAX_READ_SECONDS)
    plugin.verify_certificate = True
    plugin.redirects = False  # a public host must not bounce Haven to a private one
    plugin.retry = 0  # Haven retries by itself, after a backoff
    plugin.wait = 0.0
    plugin.optional = False  # an optional service's failure counts as success: a lost alert
    return plugin


def _split_widening(canonical: str) -> tuple[str, set[str]]:
    """The URL without WIDENING_ARGS, and the names of those it had."""
    base, mark, query = canonical.partition("?")
    kept, removed = [], set()
    for part in query.split("&") if query else []:
        name = unquote(part.partition("=")[0]).lower()
        if name in WIDENING_ARGS:
            removed.add(name)
        else:
            kept.append(part)
    return (base + mark + "&".join(kept) if kept else base), removed


def transport_safe_url(url: str) -> str:
    """`url` in Apprise's own form with its transport held to Haven's limits: connect and read
    timeouts capped (MAX_CONNECT_SECONDS, MAX_READ_SECONDS), certificates verified, no
    redirects, no retries of Apprise's own, never optional, and WIDENING_ARGS dropped.

    Pure (no DNS): the sender applies it to a stored URL before every message. InvalidInput
    (channel_scheme, channel_url) for a URL Apprise or the allow-list refuses.
    """
    canonical: str = _plugin(url).url(privacy=False)
    return _split_widening(canonical)[0]


def _check_plugin(plugin: Any, scheme: str, policy: UrlPolicy) -> None:
    reach = SCHEMES[scheme]
    if reach == "smtp":
        smtp_host = str(getattr(plugin, "smtp_host", "") or plugin.host)
        _check_host(smtp_host, int(plugin.port or DEFAULT_PORTS[scheme]), policy)
    elif reach == "host" and getattr(plugin, "mode", None) != "cloud":
        _check_host(str(plugin.host), int(plugin.port or DEFAULT_PORTS[scheme]), policy)


def check_url(url: str, policy: UrlPolicy) -> str:
    """The URL as Haven stores it (`transport_safe_url`'s form), or InvalidInput.

    Error codes: channel_scheme (not on the allow-list; file:// and the like), channel_url
    (Apprise cannot read it), channel_param (an argument in WIDENING_ARGS), channel_host (no
    such host), channel_private (Haven itself, or a private address).
    """
    plugin = _plugin(url)
    canonical, widening = _split_widening(plugin.url(privacy=False))
    if widening:
        raise InvalidInput(
            f"Channel URLs cannot set {', '.join(sorted(widening))}: Haven would fetch or "
            "read what it names.",
            code="channel_param",
            details={"params": sorted(widening)},
        )
    _check_plugin(plugin, url.partition("://")[0].lower(), policy)
    return canonical


def recheck_url(url: str, policy: UrlPolicy) -> str:
    """A stored URL checked against the policy again before a message, as DNS may have
    changed: the URL to send to (`transport_safe_url`), or InvalidInput as `check_url`.

    Arguments that `check_url` now refuses are dropped rather than refused: the rules for new
    channels never take a stored one away.
    """
    plugin = _plugin(url)
    _check_plugin(plugin, url.partition("://")[0].lower(), policy)
    return _split_widening(plugin.url(privacy=False))[0]


def _places(request: ChannelIn) -> list[Location]:
    places = [service.resolve_zip(z) for z in request.zips]
    for point in request.points:
        try:
            places.append(point_location(point.lat, point.lon))
        except GeoError as exc:
            raise InvalidInput(str(exc), code="bad_point") from exc
    return service.new_places([], places)


def _message(places: Sequence[Location], language: str, link: str) -> tuple[str, str]:
    with force_locale(ALL[language].catalog):
        names = replies.format_places(replies.place_names(places))
        title = gettext("Confirm your Haven AMBER Alerts subscription")
        paragraphs = [
            # Translators: first paragraph of the message (email, push or webhook) that
            # confirms a channel; %(places)s lists ZIP codes or places, e.g. "60601 and 60614".
            gettext(
                "Someone asked Haven AMBER Alerts to send alerts about missing children near "
                "%(places)s to this address.",
                places=names,
            ),
            # Translators: the confirmation link follows on the next line. "Confirm" is the
            # button on the page the link opens.
            ngettext(
                "To start, open this link within %(num)s day and press Confirm:",
                "To start, open this link within %(num)s days and press Confirm:",
                CONFIRM_DAYS,
            )
            + "\n"
            + link,
            gettext(
                "If this wasn't you or your organisation, ignore this message: nothing more "
                "will be sent."
            ),
        ]
    return title, "\n\n".join(paragraphs)


def with_stop_link(body: str, language: str, stop_url: str) -> str:
    """A channel message's body with its unsubscribe link at the end."""
    catalog = ALL[language if language in ALL else DEFAULT_LANGUAGE].catalog
    with force_locale(catalog):
        # The title of the page the link opens (templates/alerts/channel_stop.html).
        label = gettext("Stop AMBER Alerts")
    return f"{body}\n\n{label}\n{stop_url}"


def subscribe_channel(
    *,
    session: Session,
    request: ChannelIn,
    client: str,
    throttle: Throttle,
    limits: service.Limits,
    policy: UrlPolicy,
    provider: ChannelProvider,
    secret_key: str,
) -> None:
    """Add a channel, pending, and send its confirmation link (and its unsubscribe link)
    through it.

    Nothing joins the audience until the link is opened and confirmed. If the channel does
    not accept the message, the channel is dropped and ChannelUnreachable raised.
    """
    # Limited before the URL is checked: checking looks its host up in DNS.
    service.spend(
        throttle, limits.channel_per_client, scope="channel-client", subject=client, per="client"
    )
    url = check_url(request.url, policy)
    places = _places(request)
    service.spend(
        throttle,
        limits.channel_per_destination,
        scope="channel-destination",
        subject=url,
        per="destination",
    )
    token, token_hash = new_confirm_token()
    with write(session):
        subscriber = store.add_subscriber(
            session=session, phone=None, language=request.language, status="pending"
        )
        store.add_pending_locations(session=session, subscriber_id=subscriber.id, places=places)
        channel = store.add_channel(
            session=session, subscriber_id=subscriber.id, url=url, token_hash=token_hash
        )
    link = policy.public_url.rstrip("/") + CONFIRM_PATH + token
    title, body = _message(places, request.language, link)
    stop = stop_url(public_url=policy.public_url, secret_key=secret_key, channel_id=channel.id)
    result = provider.notify(
        url=url, title=title, body=with_stop_link(body, request.language, stop)
    )
    if result.outcome != "accepted":
        with write(session):
            dropped = store.get_channel(session=session, channel_id=channel.id, for_update=True)
            if dropped is not None:
                dropped.status = "removed"
        log.info("channel %s (%s) refused its confirmation", channel.id, redact(url))
        raise ChannelUnreachable("The channel did not accept the confirmation message.")
    log.info("channel %s (%s) waits for confirmation", channel.id, redact(url))


@dataclasses.dataclass(frozen=True)
class ChannelView:
    """What a confirmation or unsubscribe page shows about a channel."""

    channel_id: int
    status: str  # pending, active, removed
    destination: str  # redacted
    places: tuple[str, ...]
    expired: bool


def _view(session: Session, channel_id: int) -> ChannelView | None:
    channel = store.get_channel(session=session, channel_id=channel_id)
    if channel is None:
        return None
    rows = store.fetch_locations(session=session, subscriber_id=channel.subscriber_id)
    expired = channel.status == "pending" and _is_expired(channel.created_at)
    return ChannelView(
        channel.id,
        channel.status,
        redact(channel.url),
        replies.place_names([service.as_location(r) for r in rows]),
        expired,
    )


def _is_expired(created_at: datetime.datetime) -> bool:
    return utcnow() - created_at > datetime.timedelta(days=CONFIRM_DAYS)


def find_by_confirm_token(*, session: Session, token: str) -> ChannelView | None:
    """The channel a confirmation link names, or None."""
    channel = store.get_channel_by_token_hash(session=session, token_hash=hash_confirm_token(token))
    return _view(session, channel.id) if channel is not None else None


def find_by_id(*, session: Session, channel_id: int) -> ChannelView | None:
    """A channel by id (an unsubscribe link names it), or None."""
    return _view(session, channel_id)


def confirm_channel(*, session: Session, token: str) -> ChannelView:
    """Activate the channel a confirmation link names; its places join the audience.

    Confirming twice is harmless. NotFound for an unknown or stopped channel, LinkExpired after
    CONFIRM_DAYS.
    """
    token_hash = hash_confirm_token(token)
    with write(session):
        channel = store.get_channel_by_token_hash(
            session=session, token_hash=token_hash, for_update=True
        )
        if channel is None or channel.status == "removed":
            raise NotFound("This link is not valid.", code="link_not_found")
        if channel.status == "pending":
            if _is_expired(channel.created_at):
                raise LinkExpired("This link has expired.")
            subscriber = store.get_subscriber(
                session=session, subscriber_id=channel.subscriber_id, for_update=True
            )
            assert subscriber is not None
            channel.status = "active"
            channel.confirmed_at = utcnow()
            subscriber.status = "active"
            alerts_store.set_subscriber_locations_active(
                session=session, subscriber_id=subscriber.id, active=True
            )
            log.info("channel %s confirmed", channel.id)
        channel_id = channel.id
    view = _view(session, channel_id)
    assert view is not None
    return view


def stop_channel(*, session: Session, channel_id: int) -> None:
    """Stop a channel for good: its places leave the audience. Stopping twice is harmless."""
    with write(session):
        channel = store.get_channel(session=session, channel_id=channel_id, for_update=True)
        if channel is None:
            raise NotFound("This link is not valid.", code="link_not_found")
        if channel.status != "removed":
            channel.status = "removed"
            subscriber = store.get_subscriber(
                session=session, subscriber_id=channel.subscriber_id, for_update=True
            )
            assert subscriber is not None
            service.deactivate(session, subscriber)
            log.info("channel %s stopped", channel.id)


def channel_stop_url(*, settings: Settings, channel_id: int) -> str:
    """The unsubscribe link every message to a channel carries (it never expires)."""
    return stop_url(
        public_url=settings.public_url, secret_key=settings.secret_key, channel_id=channel_id
    )


def stop_url(*, public_url: str, secret_key: str, channel_id: int) -> str:
    """A channel's unsubscribe link, signed with `secret_key`."""
    return public_url.rstrip("/") + STOP_PATH + channel_stop_token(secret_key, channel_id)


# What a URL that fails its check at send time becomes. A host that cannot be found may be a
# passing DNS failure; anything else will not change by itself.
_RECHECK_RETRY = frozenset({"channel_host"})


@dataclasses.dataclass(frozen=True)
class ChannelSender:
    """Sends alerts to active channels: checks each URL against the policy again, as DNS may
    have changed since the channel was added, sends with its transport held to Haven's limits
    (`transport_safe_url`), and ends each message with its unsubscribe link.
    """

    provider: ChannelProvider
    policy: UrlPolicy
    secret_key: str = dataclasses.field(repr=False)

    @classmethod
    def from_settings(cls, settings: Settings, provider: ChannelProvider) -> ChannelSender:
        """The sender the settings describe."""
        return cls(provider, UrlPolicy.from_settings(settings), settings.secret_key)

    def send(
        self,
        *,
        channel_id: int,
        url: str,
        title: str,
        body: str,
        language: str,
        attachments: Sequence[Attachment] = (),
    ) -> SendResult:
        """Deliver one alert to one channel, with `attachments` where the channel can carry
        them; a URL the policy now refuses is not sent to."""
        try:
            safe_url = recheck_url(url, self.policy)
        except InvalidInput as refused:
            outcome: Outcome = "retry" if refused.code in _RECHECK_RETRY else "failed"
            # The message names the host (never a password or token): fine to log and keep.
            log.warning(
                "channel %s (%s) not sent to: %s [%s]",
                channel_id,
                redact(url),
                refused.message,
                refused.code,
            )
            return SendResult(outcome, error_code=refused.code, reason=refused.message)
        stop = stop_url(
            public_url=self.policy.public_url, secret_key=self.secret_key, channel_id=channel_id
        )
        scheme = safe_url.partition("://")[0].lower()
        linked = next((a for a in attachments if a.url), None)
        if scheme in LINKING_SCHEMES and linked is not None:
            safe_url = with_linked_attachment(safe_url, linked)
        return self.provider.notify(
            url=safe_url,
            title=title,
            body=with_stop_link(body, language, stop),
            attachments=attachments if scheme in ATTACHING_SCHEMES else (),
        )


def with_linked_attachment(url: str, attachment: Attachment) -> str:
    """A ntfy URL whose messages link `attachment` by its public URL (ntfy's `attach`
    and `filename`), replacing any the URL had."""
    base, _, query = url.partition("?")
    kept = [
        part
        for part in query.split("&")
        if part and unquote(part.partition("=")[0]).lower() not in ("attach", "filename")
    ]
    kept.append("attach=" + quote(attachment.url or "", safe=""))
    kept.append("filename=" + quote(attachment.name, safe=""))
    return base + "?" + "&".join(kept)
