"""Subscription pages: the web form and its code, and the channel confirm and stop links.

Plain HTML forms that work without JavaScript (static/alerts/subscribe.js only adds "use my
current location" and adds point rows in place). Every form carries a signed token and is
refused when the browser says it came from another site (Sec-Fetch-Site), so no cookie is
needed. Anonymous like Take It Down's pages: the access log names the route, never the path
(which holds a channel's token), and no address is logged.
"""

from __future__ import annotations

from typing import Any

import flask_babel
from flask import Blueprint, render_template, request

from alerts.subscriptions import channels, replies, tokens, verification, wiring
from alerts.subscriptions.schemas import SubscribeForm
from geo.locations import MAX_LOCATIONS_PER_SUBSCRIBER
from haven.db import get_session
from haven.errors import HavenError
from haven.i18n import current_language
from haven.privacy import anonymous
from haven.ratelimit import get_throttle
from haven.settings import get_settings

bp = anonymous(Blueprint("subscription_pages", __name__, url_prefix="/alerts"))

Page = tuple[str, int]


def gettext(text: str, **values: object) -> str:
    """Flask-Babel's gettext, typed (it ships no hints)."""
    return str(flask_babel.gettext(text, **values))


def ngettext(singular: str, plural: str, num: int, **values: object) -> str:
    """Flask-Babel's ngettext, typed; `num` is also %(num)s."""
    return str(flask_babel.ngettext(singular, plural, num, **values))


def _secret() -> str:
    return get_settings().secret_key


def _form_is_genuine() -> bool:
    """A form Haven served (signed token, recent), not posted from another site."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    return tokens.form_token_is_valid(_secret(), request.form.get("form_token", ""))


def _forged() -> str:
    return gettext(
        "This form was open for a long time, or was sent from another site. Please check it "
        "and send it again."
    )


def _error_message(error: HavenError) -> str:
    """What a person reads for a refused form (the service's English message never shows)."""
    details: dict[str, Any] = error.details if isinstance(error.details, dict) else {}
    code = error.code
    if code == "phone":
        return gettext("Please enter a US mobile number, for example (312) 555-0101.")
    if code == "bad_zip":
        return gettext(
            '"%(zip)s" isn\'t a ZIP code. Please enter 5-digit ZIP codes with spaces between them.',
            zip=details.get("zip", ""),
        )
    if code == "unknown_zip":
        return gettext(
            "%(zip)s isn't a US ZIP code we know. Please check it.", zip=details.get("zip", "")
        )
    if code == "bad_point":
        return gettext(
            "Please check the coordinates. Latitude is a number from -90 to 90 and longitude "
            "from -180 to 180, for example 41.88 and -87.63."
        )
    if code == "places_missing":
        return gettext("Please enter at least one ZIP code or point.")
    if code == "too_many_places" and "have" in details:
        return ngettext(
            "This number already gets alerts for %(num)s place, and the most is %(max)s. "
            "Please choose fewer new places.",
            "This number already gets alerts for %(num)s places, and the most is %(max)s. "
            "Please choose fewer new places.",
            int(details["have"]),
            max=MAX_LOCATIONS_PER_SUBSCRIBER,
        )
    if code == "too_many_places":
        return ngettext(
            "You can choose up to %(num)s place.",
            "You can choose up to %(num)s places.",
            MAX_LOCATIONS_PER_SUBSCRIBER,
        )
    if code == "language":
        return gettext("Please choose a language from the list.")
    if code == "rate_limited" and details.get("per") == "phone":
        return gettext(
            "Haven has sent several codes to this number already. To protect it from "
            "unwanted texts, no more are sent for now. Please try again in an hour."
        )
    if code == "rate_limited":
        return gettext(
            "Many codes have been asked for from this connection. To stop abuse, no more are "
            "sent for now. Please try again in an hour."
        )
    if code == "sms_not_sent":
        return gettext(
            "We couldn't send a text to this number. Please check it and try again. If you "
            "once texted STOP to Haven, text START to Haven first."
        )
    if code == "wrong_code":
        left = int(details.get("left", 0))
        return ngettext(
            "That code isn't right. You can try %(num)s more time.",
            "That code isn't right. You can try %(num)s more times.",
            left,
        )
    if code == "code_locked":
        return gettext(
            "There were too many wrong tries, so this code no longer works. Please ask for a "
            "new code."
        )
    if code == "code_expired":
        return ngettext(
            "This code has expired: a code works for %(num)s minute. Please ask for a new code.",
            "This code has expired: a code works for %(num)s minutes. Please ask for a new code.",
            verification.CODE_MINUTES,
        )
    if code == "code_used":
        return gettext(
            "This code was used already, or a newer code replaced it. Please use the newest "
            "code, or ask for a new one."
        )
    return gettext("Something went wrong on our side. Please try again in a few minutes.")


# Which form field an error is about, so the page can point at it.
ERROR_FIELDS = {
    "phone": "phone",
    "bad_zip": "zips",
    "unknown_zip": "zips",
    "places_missing": "zips",
    "too_many_places": "zips",
    "language": "language",
}


def _strings() -> dict[str, str]:
    """Text for subscribe.js."""
    return {
        "locating": gettext("Finding your location…"),
        "located": gettext("Your location is filled in below. Check it, then subscribe."),
        "denied": gettext(
            "Your browser didn't share your location. You can type the coordinates instead."
        ),
        "unavailable": gettext(
            "Your location couldn't be found. You can type the coordinates instead."
        ),
        "full": ngettext(
            "You can choose up to %(num)s place.",
            "You can choose up to %(num)s places.",
            MAX_LOCATIONS_PER_SUBSCRIBER,
        ),
        # Translators: spoken when a new row for a point's coordinates appears; %(num)s is
        # its number (2, 3...).
        "added": gettext("Point %(num)s added."),
    }


def _form_page(form: SubscribeForm, *, error: HavenError | None = None, status: int = 200) -> Page:
    message = _error_message(error) if error is not None else None
    field = ERROR_FIELDS.get(error.code) if error is not None else None
    if error is not None and error.code == "bad_point" and isinstance(error.details, dict):
        field = f"lat-{error.details.get('index', 0)}"
    if error is not None and error.code == "forged":
        message = _forged()
    return (
        render_template(
            "alerts/subscribe.html",
            form=form,
            form_token=tokens.form_token(_secret()),
            error=message,
            error_field=field,
            max_places=MAX_LOCATIONS_PER_SUBSCRIBER,
            strings=_strings(),
        ),
        status,
    )


@bp.get("/subscribe")
def subscribe() -> Page:
    """The subscription form: a phone number, up to five places, a language."""
    return _form_page(SubscribeForm(language=current_language().code))


@bp.post("/subscribe")
def send_code() -> Page:
    """Check the form and text a one-time code; the page to type it in."""
    form = SubscribeForm.from_form(request.form, default_language=current_language().code)
    if not _form_is_genuine():
        return _form_page(form, error=HavenError("forged", code="forged"), status=400)
    if request.form.get("action") == "add_point":
        if len(form.points) < MAX_LOCATIONS_PER_SUBSCRIBER:
            form = SubscribeForm(form.phone, form.zips, (*form.points, ("", "")), form.language)
        return _form_page(form)
    try:
        phone, places, language = verification.read_form(form)
        pending = verification.request_code(
            session=get_session(),
            phone=phone,
            places=places,
            language=language,
            client=wiring.client(),
            throttle=get_throttle(),
            limits=wiring.limits(),
            sms=wiring.sms_provider(),
        )
    except HavenError as error:
        return _form_page(form, error=error, status=error.status)
    return _verify_page(pending)


def _verify_page(
    pending: tokens.Pending, *, error: HavenError | None = None, status: int = 200
) -> Page:
    message = _error_message(error) if error is not None else None
    if error is not None and error.code == "forged":
        message = _forged()
    # After these, this code can never work: the page offers a new one instead of retrying.
    dead = error is not None and error.code in {"code_locked", "code_expired", "code_used"}
    return (
        render_template(
            "alerts/subscribe_verify.html",
            pending_token=tokens.pending_token(_secret(), pending),
            form_token=tokens.form_token(_secret()),
            digits=pending.phone_hint,
            minutes=verification.CODE_MINUTES,
            error=message,
            dead=dead,
        ),
        status,
    )


@bp.get("/subscribe/verify")
def verify_start_again() -> Page:
    """Without the form's state there is nothing to confirm: start again."""
    return render_template("alerts/subscribe_verify.html", pending_token=None, dead=True), 200


@bp.post("/subscribe/verify")
def verify() -> Page:
    """Check the code; on success the subscription is active and its places in the audience."""
    pending = tokens.read_pending_token(_secret(), request.form.get("pending", ""))
    if pending is None:
        return render_template("alerts/subscribe_verify.html", pending_token=None, dead=True), 400
    if not _form_is_genuine():
        return _verify_page(pending, error=HavenError("forged", code="forged"), status=400)
    try:
        done = verification.verify_code(
            session=get_session(),
            pending=pending,
            code=request.form.get("code", "")[:50],
            sms=wiring.sms_provider(),
        )
    except HavenError as error:
        return _verify_page(pending, error=error, status=error.status)
    return (
        render_template(
            "alerts/subscribe_done.html",
            places=replies.format_places(replies.place_names(done.places)),
        ),
        200,
    )


# Channels: confirm and stop links (GET shows a button; only the POST acts, so link
# scanners that follow every link in a message confirm and stop nothing)


def _channel_page(
    template: str, view: channels.ChannelView | None, state: str, status: int = 200
) -> Page:
    return (
        render_template(
            template,
            view=view,
            state=state,
            places=replies.format_places(view.places) if view is not None else "",
            form_token=tokens.form_token(_secret()),
        ),
        status,
    )


@bp.get("/channels/confirm/<token>")
def confirm_channel_page(token: str) -> Page:
    """Show what the channel will receive, with a Confirm button."""
    view = channels.find_by_confirm_token(session=get_session(), token=token[:100])
    if view is None or view.status == "removed":
        return _channel_page("alerts/channel_confirm.html", None, "invalid", 404)
    if view.status == "active":
        return _channel_page("alerts/channel_confirm.html", view, "confirmed")
    if view.expired:
        return _channel_page("alerts/channel_confirm.html", view, "expired", 410)
    return _channel_page("alerts/channel_confirm.html", view, "ask")


@bp.post("/channels/confirm/<token>")
def confirm_channel(token: str) -> Page:
    """Confirm the channel: it becomes active and its places join the audience."""
    if not _form_is_genuine():
        return confirm_channel_page(token)
    try:
        view = channels.confirm_channel(session=get_session(), token=token[:100])
    except HavenError as error:
        state = "expired" if error.code == "link_expired" else "invalid"
        return _channel_page("alerts/channel_confirm.html", None, state, error.status)
    return _channel_page("alerts/channel_confirm.html", view, "confirmed")


@bp.get("/channels/stop/<token>")
def stop_channel_page(token: str) -> Page:
    """Ask whether to stop alerts to the channel."""
    channel_id = tokens.read_channel_stop_token(_secret(), token[:200])
    view = (
        channels.find_by_id(session=get_session(), channel_id=channel_id)
        if channel_id is not None
        else None
    )
    if view is None:
        return _channel_page("alerts/channel_stop.html", None, "invalid", 404)
    if view.status == "removed":
        return _channel_page("alerts/channel_stop.html", view, "stopped")
    return _channel_page("alerts/channel_stop.html", view, "ask")


@bp.post("/channels/stop/<token>")
def stop_channel(token: str) -> Page:
    """Stop alerts to the channel for good."""
    channel_id = tokens.read_channel_stop_token(_secret(), token[:200])
    if channel_id is None or not _form_is_genuine():
        return stop_channel_page(token)
    try:
        channels.stop_channel(session=get_session(), channel_id=channel_id)
    except HavenError as error:
        return _channel_page("alerts/channel_stop.html", None, "invalid", error.status)
    view = channels.find_by_id(session=get_session(), channel_id=channel_id)
    return _channel_page("alerts/channel_stop.html", view, "stopped")
