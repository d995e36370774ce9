"""Console sessions: a random token in an HttpOnly, SameSite=Strict cookie, stored as a hash.

A session is kept in the database (`OfficerSession`), not in a signed cookie, so that signing
out, revoking an officer or resetting their factors ends it at once, on every process. It
ends after `console_idle_minutes` without a request. Every state-changing request carries a
CSRF token derived from the session's token (`csrf_token`), as a form field or an
`X-CSRF-Token` header; SameSite=Strict is the first guard, the token the second. The forms
posted before a session exists (sign-in and enrolment) carry `pre_csrf_token`, derived from a
random value in a short-lived cookie of their own, and must come from the console's own pages
by Origin / Sec-Fetch-Site. All SQL is in alerts/console/store.py.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Callable
from typing import ParamSpec, TypeVar
from urllib.parse import urlsplit

from flask import g, redirect, request, url_for
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response as BaseResponse

from alerts import store
from alerts.console import store as console_store
from alerts.models import Officer, OfficerSession
from haven.auth import hash_secret, new_secret
from haven.db import get_session, utcnow, write
from haven.errors import Forbidden, Unauthorized
from haven.settings import get_settings

COOKIE = "haven_console"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Before a session exists (the sign-in and enrolment forms), the CSRF token is an HMAC of a
# random value in this cookie (double submit): a page on another site can neither read the
# cookie nor compute the field, so it cannot sign this browser in as someone else.
PRE_COOKIE = "haven_console_pre"
PRE_CSRF_FIELD = "pre_csrf_token"
PRE_SECONDS = 3600  # as long as an enrolment page stays usable; every form served renews it
# last_seen is written at most this often: a page polling progress every second must not
# write a row every second.
_TOUCH_EVERY = datetime.timedelta(seconds=30)

P = ParamSpec("P")
R = TypeVar("R")


def start_session(*, session: Session, officer: Officer, now: datetime.datetime) -> str:
    """Open a session for `officer` (inside the caller's write transaction); its token."""
    token = new_secret("hvs")
    console_store.add_session(
        session=session, token_hash=hash_secret(token), officer_id=officer.id, now=now
    )
    return token


def find_session(
    *, session: Session, token: str, now: datetime.datetime, idle: datetime.timedelta
) -> tuple[OfficerSession, Officer] | None:
    """The live session of `token` and its officer: None when unknown, signed out, idle for
    longer than `idle`, or its officer revoked."""
    found = console_store.get_session_by_token(session=session, token_hash=hash_secret(token))
    if found is None:
        return None
    live, officer = found
    if live.ended_at is not None or officer.revoked_at is not None:
        return None
    if live.last_seen + idle <= now:
        return None
    return live, officer


def end_session(*, session: Session, token: str, now: datetime.datetime) -> None:
    """End the session of `token`, if it is open (inside the caller's write transaction)."""
    console_store.end_session(session=session, token_hash=hash_secret(token), now=now)


def csrf_token_for(token: str, secret_key: str) -> str:
    """The CSRF token that goes with a session token: useless without the app's key."""
    return hmac.new(secret_key.encode(), b"csrf:" + token.encode(), hashlib.sha256).hexdigest()


def _idle() -> datetime.timedelta:
    return datetime.timedelta(minutes=get_settings().console_idle_minutes)


def current_officer() -> Officer | None:
    """The officer signed in to the console on this request, or None (no cookie, or a session
    that ended). A found session's idle clock starts again."""
    if "console_officer" in g:
        officer: Officer | None = g.console_officer
        return officer
    g.console_officer = None
    token = request.cookies.get(COOKIE)
    if token:
        session = get_session()
        now = utcnow()
        found = find_session(session=session, token=token, now=now, idle=_idle())
        if found is not None:
            live, g.console_officer = found
            g.console_token = token
            if now - live.last_seen >= _TOUCH_EVERY:
                with write(session):
                    console_store.touch_session(session=session, session_id=live.id, now=now)
    return g.console_officer  # type: ignore[no-any-return]


def csrf_token() -> str:
    """This request's CSRF token ("" when nobody is signed in)."""
    token = g.get("console_token") if current_officer() is not None else None
    return csrf_token_for(token, get_settings().secret_key) if token else ""


def check_csrf() -> None:
    """403 `csrf_failed` unless a state-changing request carries this session's CSRF token."""
    if request.method in SAFE_METHODS:
        return
    sent = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD, "")
    expected = csrf_token()
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise Forbidden(
            "This form has expired or did not come from the console. Reload the page and "
            "try again.",
            code="csrf_failed",
        )


def pre_csrf_token() -> str:
    """The CSRF token of this browser's forms before a session exists (sign-in, second factor,
    enrolment). The browser keeps the value it derives from in `PRE_COOKIE`; a browser without
    one gets a new value, and the cookie goes out with this response (`set_pre_cookie`)."""
    value = g.get("console_pre")
    if value is None:
        sent = request.cookies.get(PRE_COOKIE, "")
        value = sent if _is_pre_value(sent) else secrets.token_urlsafe(32)
        g.console_pre = value
    return _pre_token_for(value, get_settings().secret_key)


def _is_pre_value(value: str) -> bool:
    """Whether a cookie's value looks like one `pre_csrf_token` made (43 URL-safe characters)."""
    return len(value) == 43 and all(c.isascii() and (c.isalnum() or c in "-_") for c in value)


def _pre_token_for(value: str, secret_key: str) -> str:
    return hmac.new(secret_key.encode(), b"pre-csrf:" + value.encode(), hashlib.sha256).hexdigest()


def set_pre_cookie(response: BaseResponse) -> BaseResponse:
    """Give the browser the pre-session cookie when this response's page used it: HttpOnly,
    SameSite=Lax, for PRE_SECONDS, Secure except on loopback; and keep the page out of every
    cache (it carries the form's token, and the enrolment page an authenticator key).

    Lax, not Strict: an enrolment link opened from an e-mail is a navigation from another
    site, and a Strict cookie would not come with it, so the page would set a new value and
    the forms open in the officer's other tabs would stop matching."""
    value = g.get("console_pre")
    if value is not None:
        response.headers["Cache-Control"] = "no-store"
        response.set_cookie(
            PRE_COOKIE,
            value,
            max_age=PRE_SECONDS,
            httponly=True,
            samesite="Lax",
            secure=_secure_cookie(),
            path="/console/",
        )
    return response


def check_pre_session_form(again: str) -> None:
    """403 `csrf_failed` for a form posted before a session exists (sign-in, second factor,
    enrolment) that came from another site, or whose `pre_csrf_token` field does not match
    this browser's pre-session cookie. `again` tells the officer how to start over."""
    site = request.headers.get("Sec-Fetch-Site")
    # Pages are sent with Referrer-Policy: no-referrer, so a browser's Origin on a form post
    # is "null"; Sec-Fetch-Site says where it came from. Without it, a real Origin must match.
    origin = request.headers.get("Origin", "null")
    if site is not None:
        foreign = site not in {"same-origin", "none"}
    else:
        foreign = origin != "null" and origin != request.host_url.rstrip("/")
    if foreign:
        raise Forbidden(f"This form did not come from the console. {again}", code="csrf_failed")
    # A browser that sends neither header passes the check above: the token stops a form
    # posted from another site there.
    value = request.cookies.get(PRE_COOKIE, "")
    sent = request.form.get(PRE_CSRF_FIELD, "")
    expected = _pre_token_for(value, get_settings().secret_key)
    if not value or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise Forbidden(
            f"This form has expired or did not come from the console. {again}",
            code="csrf_failed",
        )


def require_officer() -> Officer:
    """The signed-in officer, after the CSRF check; 401 when nobody is signed in (for the JSON
    routes the console's scripts call)."""
    officer = current_officer()
    if officer is None:
        raise Unauthorized("Sign in to the console again: your session has ended.")
    check_csrf()
    return officer


def signed_in(view: Callable[P, R]) -> Callable[P, R | BaseResponse]:
    """For console pages: the signed-in officer is in `g.officer`; anyone else is sent to the
    sign-in page, and back here afterwards. State-changing requests must carry the CSRF
    token."""

    @functools.wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | BaseResponse:
        officer = current_officer()
        if officer is None:
            return redirect(url_for("console.sign_in", next=request.full_path.rstrip("?")))
        check_csrf()
        g.officer = officer
        return view(*args, **kwargs)

    return wrapper


def is_loopback(url: str) -> bool:
    """Whether `url`'s host is this machine (where the cookie may go without Secure)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _secure_cookie() -> bool:
    """Secure, unless both this request and `public_url` are on loopback (a development
    server on http://127.0.0.1): a public `public_url` makes it Secure even when the request
    reaches Haven on loopback, behind a proxy that ends TLS."""
    return not (is_loopback(request.host_url) and is_loopback(get_settings().public_url))


def set_session_cookie(response: BaseResponse, token: str) -> None:
    """Give the browser the session cookie: HttpOnly, SameSite=Strict, and Secure except on
    loopback."""
    response.set_cookie(
        COOKIE, token, httponly=True, samesite="Strict", secure=_secure_cookie(), path="/"
    )


def clear_session_cookie(response: BaseResponse) -> None:
    """Tell the browser to forget the session cookie."""
    response.delete_cookie(
        COOKIE, path="/", httponly=True, samesite="Strict", secure=_secure_cookie()
    )


def current_agency_name() -> str:
    """The name of the signed-in officer's agency ("" when nobody is signed in)."""
    officer = current_officer()
    if officer is None:
        return ""
    return store.get_agency(session=get_session(), agency_id=officer.agency_id).name


def template_globals() -> dict[str, object]:
    """Template globals for console pages: `csrf_token()`, `pre_csrf_token()`,
    `console_officer()` and `console_agency()`."""
    return {
        "csrf_token": csrf_token,
        "pre_csrf_token": pre_csrf_token,
        "console_officer": current_officer,
        "console_agency": current_agency_name,
    }
