"""Console enrolment through a one-time link: a password and a second factor, in one step.

`haven officer add` (or `reset`) prints the link; only its hash is kept. The page offers a
security key or passkey (WebAuthn), or an authenticator app (TOTP: the key as text and as a QR
code of its otpauth:// URI). Its signed state carries the TOTP key being set up and the
WebAuthn challenge for an hour. Posting it checks both and spends the link in one
transaction; bad input changes nothing. docs/console.md, "Sign-in and roles", describes it.
"""

from __future__ import annotations

from typing import Any

from flask import redirect, render_template, request, url_for
from markupsafe import Markup
from werkzeug.wrappers import Response as BaseResponse

from alerts import store
from alerts.console import bp, factors
from alerts.console import store as console_store
from alerts.console.sessions import check_pre_session_form
from alerts.console.signin import first_use
from alerts.models import Officer
from haven.auth import hash_secret
from haven.db import get_session, utcnow, write
from haven.errors import HavenError, InvalidInput, NotFound
from haven.settings import get_settings

ENROL_SECONDS = 3600  # an enrolment page (its TOTP secret, its challenge) stays usable
AGAIN = "Open your enrolment link once more and try again."


class EnrolmentLinkExpired(HavenError):
    """An enrolment link that was valid once, but whose time is up."""

    status = 410
    code = "enrolment_expired"


def _enrolling(token: str) -> Officer:
    """The officer this enrolment link is for: 404 when unknown or spent, 410 when expired."""
    officer = console_store.get_officer_by_enrolment(
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
    state = {**state, "challenge": factors.encode_challenge(challenge)}
    uri = factors.totp_uri(state["totp"], officer=officer, agency=agency)
    return render_template(
        "console/enrol.html",
        officer=officer,
        agency=agency,
        state=factors.sign_state(settings, "enrol", state),
        webauthn_options=options,
        totp_secret=state["totp"],
        totp_uri=uri,
        # segno's own markup: a <svg> of paths, nothing taken from the request.
        totp_qr=Markup(factors.totp_qr_svg(uri)),  # noqa: S704
        error=error.message if error else None,
    )


@bp.post("/enrol/<token>")
def enrol_submit(token: str) -> tuple[str, int] | BaseResponse:
    """Set the password and the factor; the link is spent. Bad input changes nothing."""
    check_pre_session_form(AGAIN)
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
        if not console_store.claim_enrolment(
            session=session, officer_id=officer.id, enrolment_hash=state["enrolment"]
        ):
            raise NotFound("This enrolment link has just been used.", code="enrolment_unknown")
        if credential:
            factors.register_credential(
                session=session,
                settings=settings,
                officer=officer,
                challenge=factors.decode_challenge(state["challenge"]),
                response=credential,
            )
            factor = "webauthn"
        else:
            officer.totp_secret = state["totp"]
            factor = "totp"
        officer.password_hash = factors.hash_password(request.form.get("password", ""))
        for action, changes in (("enrolled", {}), ("factor_added", {"factor": factor})):
            console_store.record_event(
                session=session,
                agency_id=officer.agency_id,
                officer_id=officer.id,
                action=action,
                now=now,
                **changes,
            )
    if step is not None:
        first_use(f"totp:{officer.id}:{step}")  # the code that enrolled cannot sign in
    return factor
