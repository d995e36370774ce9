"""Console sign-in: a password and a second factor (WebAuthn or TOTP), and signing out.

Signing in takes two steps. The first checks agency, name and password and answers with the
second-factor form, carrying a signed value that names the officer and the WebAuthn challenge
for five minutes. The second checks a security key's assertion or an authenticator app's
code and opens a session. Both steps count as guesses for the throttle (per officer and per
client) and write to the audit trail. Both forms carry the pre-session CSRF token
(`check_pre_session_form`, alerts/console/sessions.py), as does enrolment (enrol.py).
docs/console.md, "Sign-in and roles", describes it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

from flask import g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from alerts import store
from alerts.console import bp, factors
from alerts.console import store as console_store
from alerts.console.sessions import (
    COOKIE,
    check_csrf,
    check_pre_session_form,
    clear_session_cookie,
    current_officer,
    end_session,
    set_session_cookie,
    start_session,
)
from alerts.models import Officer
from haven.db import get_session, utcnow, write
from haven.errors import HavenError, InvalidInput
from haven.ratelimit import Backoff, Guess, client_address, get_throttle
from haven.settings import get_settings

SCOPE = "console-sign-in"
# Wrong passwords and codes are slowed, never locked out: an officer must still get in under
# pressure. Per officer and client (a right answer forgets the count), so a stranger who
# knows an officer's name cannot keep the officer's own browser waiting; per officer over
# every client, looser and with short waits, so guesses spread over many addresses are still
# slowed; per client, over every officer it tries (a right answer does not clear it).
PER_OFFICER_CLIENT = Backoff(free=5, first_wait=2, max_wait=120)
PER_OFFICER = Backoff(free=50, first_wait=2, max_wait=30)
PER_CLIENT = Backoff(free=20, first_wait=2, max_wait=600)
SIGN_IN_SECONDS = 300  # between the password and the second factor
REFUSED = "The agency, name or password is wrong."
AGAIN = "Open the sign-in page and try again."


def safe_next(value: str | None) -> str:
    """Where to go after signing in: `value` when it is a local path under /console/, else
    the console's home."""
    home: str = url_for("console.home")
    if not value or not value.startswith("/console/"):
        return home
    # Browsers read %2e as a dot and a backslash as a slash: check the path as they see it.
    path = unquote(urlsplit(value).path).replace("\\", "/")
    if "//" in path or any(part in {".", ".."} for part in path.split("/")):
        return home
    return value


def _admit(agency: str, name: str, *, last_step: bool) -> Guess:
    """Admit one guess at an officer's password or factor, or 429 while one must wait.

    Only a right second factor (`last_step`) forgets the officer's wrong guesses: a right
    password alone must not, or knowing it would buy endless guesses at the codes."""
    officer_key = f"officer:{agency.strip().casefold()}:{name.strip().casefold()}"
    client_key = f"client:{client_address()}"
    return get_throttle().admit_guess(
        SCOPE,
        [
            (f"{officer_key}:{client_key}", PER_OFFICER_CLIENT, last_step),
            (officer_key, PER_OFFICER, last_step),
            (client_key, PER_CLIENT, False),
        ],
    )


# Sign-in


@bp.get("/sign-in")
def sign_in() -> str | BaseResponse:
    """The sign-in form (agency, name, password)."""
    next_url = safe_next(request.args.get("next"))
    # A signed-in browser is not sent on: on a shared station PC the next officer must see
    # whose session this is, and be able to end it.
    officer = current_officer()
    return render_template(
        "console/sign_in.html",
        step="password" if officer is None else "signed_in",
        officer=officer,
        next=next_url,
        enrolled=request.args.get("enrolled") == "1",
    )


@bp.post("/sign-in")
def sign_in_password() -> tuple[str, int, dict[str, str]] | str:
    """Check agency, name and password; answer with the second-factor form."""
    check_pre_session_form(AGAIN)
    agency_name = request.form.get("agency", "").strip()
    name = request.form.get("name", "").strip()
    password = request.form.get("password", "")
    next_url = safe_next(request.form.get("next"))
    fields = {"agency": agency_name, "name": name, "next": next_url}
    try:
        if not agency_name or not name or not password:
            raise InvalidInput("Give your agency, your name and your password.")
        officer = _check_password(agency_name, name, password)
    except HavenError as exc:
        return _form_again("password", exc, fields)
    return _factor_form(officer, agency_name, next_url)


def _check_password(agency_name: str, name: str, password: str) -> Officer:
    """The enrolled, unrevoked officer with this password, or 401 (the same for an unknown
    agency, an unknown name, and a wrong password)."""
    guess = _admit(agency_name, name, last_step=False)
    session = get_session()
    agency = store.get_agency_by_name(session=session, name=agency_name)
    officer = (
        store.get_officer_by_name(session=session, agency_id=agency.id, name=name)
        if agency is not None
        else None
    )
    stored = officer.password_hash if officer is not None and officer.revoked_at is None else None
    right = factors.password_matches(stored, password)
    get_throttle().settle_guess(guess, right=right)
    if officer is None or not right:
        if agency is not None:
            with write(session):
                console_store.record_event(
                    session=session,
                    agency_id=agency.id,
                    officer_id=officer.id if officer else None,
                    action="sign_in_failed",
                    now=utcnow(),
                    step="password",
                )
        raise _unauthorised(REFUSED)
    return officer


def _unauthorised(message: str) -> HavenError:
    error = HavenError(message, code="sign_in_failed")
    error.status = 401
    return error


def _factor_form(
    officer: Officer, agency_name: str, next_url: str, error: HavenError | None = None
) -> tuple[str, int, dict[str, str]] | str:
    """The second step: a security key, or a code from the authenticator app."""
    settings = get_settings()
    credentials = console_store.fetch_credentials(session=get_session(), officer_id=officer.id)
    options, challenge = (
        factors.authentication_options(settings, credentials) if credentials else ("", b"")
    )
    state = factors.sign_state(
        settings,
        "sign-in",
        {
            "officer": officer.id,
            "agency": agency_name,
            "challenge": factors.encode_challenge(challenge),
            "next": next_url,
        },
    )
    page = render_template(
        "console/sign_in.html",
        step="factor",
        state=state,
        webauthn_options=options,
        totp=officer.totp_secret is not None,
        officer=officer,
        agency=agency_name,
        error=error.message if error else None,
    )
    if error is None:
        return page
    return page, error.status, _retry_after(error)


def _retry_after(error: HavenError) -> dict[str, str]:
    return {"Retry-After": str(error.retry_after)} if error.retry_after > 0 else {}


def _form_again(
    step: str, error: HavenError, fields: dict[str, Any]
) -> tuple[str, int, dict[str, str]]:
    page = render_template("console/sign_in.html", step=step, error=error.message, **fields)
    return page, error.status, _retry_after(error)


@bp.post("/sign-in/factor")
def sign_in_factor() -> tuple[str, int, dict[str, str]] | str | BaseResponse:
    """Check the second factor; open a session and go where the officer was going."""
    check_pre_session_form(AGAIN)
    settings = get_settings()
    state = factors.read_state(
        settings, "sign-in", request.form.get("state", ""), max_age=SIGN_IN_SECONDS
    )
    if state is None:
        expired = InvalidInput("Signing in took too long. Please start again.", code="expired")
        return _form_again("password", expired, {"next": safe_next(request.form.get("next"))})
    session = get_session()
    officer = store.get_officer(session=session, officer_id=int(state["officer"]))
    if officer is None or officer.revoked_at is not None or officer.password_hash is None:
        return _form_again("password", _unauthorised(REFUSED), {"next": state["next"]})
    try:
        factor = _check_factor(officer, state)
    except HavenError as exc:
        return _factor_form(officer, state["agency"], state["next"], exc)
    response = redirect(state["next"])
    previous = current_officer()
    with write(session):
        # Whoever was signed in on this browser is signed out first: one browser, one session.
        if previous is not None:
            end_session(session=session, token=request.cookies.get(COOKIE, ""), now=utcnow())
            console_store.record_event(
                session=session,
                agency_id=previous.agency_id,
                officer_id=previous.id,
                action="sign_out",
                now=utcnow(),
            )
        token = start_session(session=session, officer=officer, now=utcnow())
        console_store.record_event(
            session=session,
            agency_id=officer.agency_id,
            officer_id=officer.id,
            action="sign_in",
            now=utcnow(),
            factor=factor,
        )
    set_session_cookie(response, token)
    return response


def _check_factor(officer: Officer, state: dict[str, Any]) -> str:
    """The factor that proved the officer ("webauthn" or "totp"), or 401 after recording the
    failure; 429 while earlier wrong ones must be waited out."""
    settings = get_settings()
    session = get_session()
    assertion = request.form.get("credential", "")
    code = request.form.get("code", "")
    guess = _admit(state["agency"], officer.name, last_step=True)
    factor, problem = "webauthn", "The security key did not answer as registered. Try again."
    right = False
    with write(session):
        if assertion:
            # The challenge is spent with its first use, right or wrong.
            fresh = first_use(f"challenge:{state['challenge']}")
            credentials = console_store.fetch_credentials(session=session, officer_id=officer.id)
            found = factors.check_assertion(
                settings=settings,
                credentials=credentials,
                challenge=factors.decode_challenge(state["challenge"]),
                response=assertion,
            )
            right = fresh and found is not None
        elif officer.totp_secret is not None:
            factor = "totp"
            step = factors.totp_timecode(officer.totp_secret, code)
            if step is None:
                problem = "That code is wrong. Type the 6-digit code your app shows now."
            elif not first_use(f"totp:{officer.id}:{step}"):
                problem = "That code has been used already. Wait for your app's next code."
            else:
                right = True
        if not right:
            console_store.record_event(
                session=session,
                agency_id=officer.agency_id,
                officer_id=officer.id,
                action="sign_in_failed",
                now=utcnow(),
                step=factor,
            )
    get_throttle().settle_guess(guess, right=right)
    if not right:
        raise _unauthorised(problem)
    return factor


def first_use(what: str) -> bool:
    """Whether this is the first use of a one-time value (a TOTP step of an officer, a
    WebAuthn challenge) within the time it could be used again."""
    throttle = get_throttle()
    key = f"used:{SCOPE}:{throttle.pseudonym(what)}"
    # A TOTP step is good for at most three 30-second steps; a challenge for SIGN_IN_SECONDS.
    return throttle.storage.incr(key, SIGN_IN_SECONDS + 60) == 1


@bp.post("/sign-out")
def sign_out() -> BaseResponse:
    """End this session, and send the officer to the sign-in page."""
    officer = current_officer()
    response = redirect(url_for("console.sign_in"))
    if officer is not None:
        check_csrf()
        session = get_session()
        with write(session):
            end_session(session=session, token=request.cookies.get(COOKIE, ""), now=utcnow())
            console_store.record_event(
                session=session,
                agency_id=officer.agency_id,
                officer_id=officer.id,
                action="sign_out",
                now=utcnow(),
            )
        g.console_officer = None
    clear_session_cookie(response)
    return response
