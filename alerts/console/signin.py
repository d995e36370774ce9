"""Console sign-in: enrolment links, password and a second factor (WebAuthn or TOTP).

Signing in takes two steps. The first checks agency, name and password and answers with the
second-factor form, carrying a signed value that names the officer and the WebAuthn challenge
for five minutes. The second checks a security key's assertion or an authenticator app's
code and opens a session. Both steps count as guesses for the throttle (per officer and per
client) and write to the audit trail. docs/console.md, "Sign-in and roles", describes it.
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import unquote, urlsplit

from flask import Response, g, make_response, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from alerts import store
from alerts.console import bp, factors
from alerts.console.sessions import (
    COOKIE,
    check_csrf,
    clear_session_cookie,
    current_officer,
    end_session,
    record_event,
    set_session_cookie,
    start_session,
)
from alerts.models import Officer
from haven.auth import hash_secret
from haven.db import get_session, utcnow, write
from haven.errors import Forbidden, HavenError, InvalidInput, NotFound, json_error
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
ENROL_SECONDS = 3600  # an enrolment page (its TOTP secret, its challenge) stays usable
REFUSED = "The agency, name or password is wrong."


class EnrolmentLinkExpired(HavenError):
    """An enrolment link that was valid once, but whose time is up."""

    status = 410
    code = "enrolment_expired"


@bp.errorhandler(HavenError)
def _error_page(exc: HavenError) -> Response:
    """Console pages show an error as a page with its message; JSON callers get JSON."""
    if _wants_json():
        response = json_error(exc.status, exc.code, exc.message, exc.details)
    else:
        page = render_template("console/error.html", message=exc.message, status=exc.status)
        response = make_response(page, exc.status)
    if exc.retry_after > 0:
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


def _wants_json() -> bool:
    return (
        request.path.endswith(".json")
        or request.is_json
        or request.accept_mimetypes.best == "application/json"
    )


def _check_origin() -> None:
    """403 `csrf_failed` for a form posted from another site (before anyone is signed in,
    there is no session to derive a CSRF token from)."""
    site = request.headers.get("Sec-Fetch-Site")
    # Pages are sent with Referrer-Policy: no-referrer, so a browser's Origin on a form post
    # is "null"; Sec-Fetch-Site says where it came from. Without it, a real Origin must match.
    origin = request.headers.get("Origin", "null")
    if site is not None:
        foreign = site not in {"same-origin", "none"}
    else:
        foreign = origin != "null" and origin != request.host_url.rstrip("/")
    if foreign:
        raise Forbidden(
            "This form did not come from the console. Open the sign-in page and try again.",
            code="csrf_failed",
        )


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


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text.encode())


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
    _check_origin()
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
                record_event(
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
    credentials = factors.fetch_credentials(session=get_session(), officer_id=officer.id)
    options, challenge = (
        factors.authentication_options(settings, credentials) if credentials else ("", b"")
    )
    state = factors.sign_state(
        settings,
        "sign-in",
        {
            "officer": officer.id,
            "agency": agency_name,
            "challenge": _b64(challenge),
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
    _check_origin()
    settings = get_settings()
    state = factors.read_state(
        settings, "sign-in", request.form.get("state", ""), max_age=SIGN_IN_SECONDS
    )
    if state is None:
        expired = InvalidInput("Signing in took too long. Please start again.", code="expired")
        return _form_again("password", expired, {"next": safe_next(request.form.get("next"))})
    session = get_session()
    officer = session.get(Officer, int(state["officer"]))
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
            record_event(
                session=session,
                agency_id=previous.agency_id,
                officer_id=previous.id,
                action="sign_out",
                now=utcnow(),
            )
        token = start_session(session=session, officer=officer, now=utcnow())
        record_event(
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
            fresh = _first_use(f"challenge:{state['challenge']}")
            credentials = factors.fetch_credentials(session=session, officer_id=officer.id)
            found = factors.check_assertion(
                settings=settings,
                credentials=credentials,
                challenge=_unb64(state["challenge"]),
                response=assertion,
            )
            right = fresh and found is not None
        elif officer.totp_secret is not None:
            factor = "totp"
            step = factors.totp_timecode(officer.totp_secret, code)
            if step is None:
                problem = "That code is wrong. Type the 6-digit code your app shows now."
            elif not _first_use(f"totp:{officer.id}:{step}"):
                problem = "That code has been used already. Wait for your app's next code."
            else:
                right = True
        if not right:
            record_event(
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


def _first_use(what: str) -> bool:
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
            record_event(
                session=session,
                agency_id=officer.agency_id,
                officer_id=officer.id,
                action="sign_out",
                now=utcnow(),
            )
        g.console_officer = None
    clear_session_cookie(response)
    return response


# Enrolment


def _enrolling(token: str) -> Officer:
    """The officer this enrolment link is for: 404 when unknown or spent, 410 when expired."""
    officer = factors.get_officer_by_enrolment(
        session=get_session(), enrolment_hash=hash_secret(token)
    )
    if officer is None or officer.revoked_at is not None:
        raise NotFound(
            "This enrolment link is not valid: it may have been used already, or replaced by "
            "a newer one. Ask your administrator for a new link.",
            code="enrolment_unknown",
        )
    expires = officer.enrolment_expires
    if expires is None or expires <= utcnow():
        raise EnrolmentLinkExpired(
            "This enrolment link has expired. Ask your administrator for a new one "
            "(haven officer reset)."
        )
    return officer


@bp.get("/enrol/<token>")
def enrol(token: str) -> str:
    """The enrolment page: set a password and register a second factor."""
    officer = _enrolling(token)
    return _enrol_form(officer)


def _enrol_form(
    officer: Officer, state: dict[str, Any] | None = None, error: HavenError | None = None
) -> str:
    settings = get_settings()
    agency = store.get_agency(session=get_session(), agency_id=officer.agency_id).name
    options, challenge = factors.registration_options(settings, officer=officer, agency=agency)
    if state is None:
        state = {"enrolment": officer.enrolment_hash, "totp": factors.new_totp_secret()}
    state = {**state, "challenge": _b64(challenge)}
    return render_template(
        "console/enrol.html",
        officer=officer,
        agency=agency,
        state=factors.sign_state(settings, "enrol", state),
        webauthn_options=options,
        totp_secret=state["totp"],
        totp_uri=factors.totp_uri(state["totp"], officer=officer, agency=agency),
        error=error.message if error else None,
    )


@bp.post("/enrol/<token>")
def enrol_submit(token: str) -> tuple[str, int] | BaseResponse:
    """Set the password and the factor; the link is spent. Bad input changes nothing."""
    _check_origin()
    settings = get_settings()
    officer = _enrolling(token)
    state = factors.read_state(
        settings, "enrol", request.form.get("state", ""), max_age=ENROL_SECONDS
    )
    if state is None or state.get("enrolment") != officer.enrolment_hash:
        expired = InvalidInput(
            "This page was open too long. Set up your authenticator app again with the new "
            "key below, or register your security key.",
            code="expired",
        )
        return _enrol_form(officer, error=expired), expired.status
    try:
        _enrol(officer, state)
    except HavenError as exc:
        return _enrol_form(officer, state, exc), exc.status
    return redirect(url_for("console.sign_in", enrolled=1))


def _enrol(officer: Officer, state: dict[str, Any]) -> str:
    """Check and store the password and second factor in one transaction; the factor."""
    settings = get_settings()
    session = get_session()
    agency = store.get_agency(session=session, agency_id=officer.agency_id).name
    factors.check_new_password(
        request.form.get("password", ""),
        request.form.get("password_again", ""),
        officer=officer,
        agency=agency,
    )
    credential = request.form.get("credential", "")
    step = None
    if not credential:
        step = factors.totp_timecode(state["totp"], request.form.get("code", ""))
        if step is None:
            raise InvalidInput(
                "That code is wrong. Type the 6-digit code your authenticator app shows now "
                "(or register a security key instead)."
            )
    now = utcnow()
    with write(session):
        if not factors.claim_enrolment(
            session=session, officer_id=officer.id, enrolment_hash=state["enrolment"]
        ):
            raise NotFound("This enrolment link has just been used.", code="enrolment_unknown")
        if credential:
            factors.register_credential(
                session=session,
                settings=settings,
                officer=officer,
                challenge=_unb64(state["challenge"]),
                response=credential,
            )
            factor = "webauthn"
        else:
            officer.totp_secret = state["totp"]
            factor = "totp"
        officer.password_hash = factors.hash_password(request.form.get("password", ""))
        for action, changes in (("enrolled", {}), ("factor_added", {"factor": factor})):
            record_event(
                session=session,
                agency_id=officer.agency_id,
                officer_id=officer.id,
                action=action,
                now=now,
                **changes,
            )
    if step is not None:
        _first_use(f"totp:{officer.id}:{step}")  # the code that enrolled cannot sign in
    return factor
