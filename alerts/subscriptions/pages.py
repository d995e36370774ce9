"""Subscription pages: the web form and its code, unsubscribing a number with a code, and the
channel confirm and stop links.

Plain HTML forms that work without JavaScript (static/alerts/subscribe.js only adds "use my
current location" and adds point rows in place). Every form carries a signed token and is
refused when the browser says it came from another site (Sec-Fetch-Site), so no cookie is
needed. Anonymous like Take It Down's pages: the access log names the route, never the path
(which holds a channel's token), and no address is logged.
"""

from __future__ import annotations

from flask import Blueprint, render_template, request

from alerts.subscriptions import (
    channels,
    page_text,
    replies,
    tokens,
    unsubscribe,
    verification,
    wiring,
)
from alerts.subscriptions.schemas import MAX_FIELD, SubscribeForm
from alerts.subscriptions.text_number import TextNumber
from geo.locations import MAX_LOCATIONS_PER_SUBSCRIBER
from haven.db import get_session
from haven.errors import HavenError
from haven.i18n import current_language
from haven.privacy import anonymous
from haven.ratelimit import get_throttle
from haven.settings import get_settings

bp = anonymous(Blueprint("subscription_pages", __name__, url_prefix="/alerts"))

Page = tuple[str, int]


def _secret() -> str:
    return get_settings().secret_key


@bp.context_processor
def _text_number() -> dict[str, object]:
    """`text_number`: the number to text JOIN, START or STOP to, or None (then the pages
    leave out what would name it)."""
    return {"text_number": TextNumber.from_settings(get_settings())}


def _form_is_genuine() -> bool:
    """A form Haven served (signed token, recent), not posted from another site."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    return tokens.form_token_is_valid(_secret(), request.form.get("form_token", ""))


def _form_page(form: SubscribeForm, *, error: HavenError | None = None, status: int = 200) -> Page:
    message = page_text.error_message(error) if error is not None else None
    field = page_text.ERROR_FIELDS.get(error.code) if error is not None else None
    if error is not None and error.code == "bad_point" and isinstance(error.details, dict):
        field = f"lat-{error.details.get('index', 0)}"
    if error is not None and error.code == "forged":
        message = page_text.forged()
    return (
        render_template(
            "alerts/subscribe.html",
            form=form,
            form_token=tokens.form_token(_secret()),
            error=message,
            error_field=field,
            max_places=MAX_LOCATIONS_PER_SUBSCRIBER,
            strings=page_text.script_strings(),
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
    message = page_text.error_message(error) if error is not None else None
    if error is not None and error.code == "forged":
        message = page_text.forged()
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


# Unsubscribing: a number, then the code texted to it if it gets alerts (unsubscribe.py).
# Every page here is the same whether or not the number gets alerts.


def _unsubscribe_page(
    phone: str = "", *, error: HavenError | None = None, status: int = 200
) -> Page:
    message = page_text.error_message(error, unsubscribing=True) if error is not None else None
    if error is not None and error.code == "forged":
        message = page_text.forged()
    return (
        render_template(
            "alerts/unsubscribe.html",
            phone=phone,
            form_token=tokens.form_token(_secret()),
            error=message,
            error_field=page_text.ERROR_FIELDS.get(error.code) if error is not None else None,
        ),
        status,
    )


@bp.get("/unsubscribe")
def unsubscribe_form() -> Page:
    """The unsubscribe form: a mobile number."""
    return _unsubscribe_page()


@bp.post("/unsubscribe")
def unsubscribe_send_code() -> Page:
    """Check the number and, if it gets alerts, text it a code; the page to type it in."""
    typed = request.form.get("phone", "")[:MAX_FIELD].strip()
    if not _form_is_genuine():
        return _unsubscribe_page(typed, error=HavenError("forged", code="forged"), status=400)
    try:
        pending = unsubscribe.request_code(
            phone=verification.read_phone(typed),
            client=wiring.client(),
            throttle=get_throttle(),
            limits=wiring.limits(),
            sms=wiring.sms_provider(),
            background=wiring.background(),
        )
    except HavenError as error:
        return _unsubscribe_page(typed, error=error, status=error.status)
    return _unsubscribe_verify_page(pending)


def _unsubscribe_verify_page(
    pending: tokens.PendingUnsubscribe | None,
    *,
    error: HavenError | None = None,
    status: int = 200,
) -> Page:
    message = page_text.error_message(error, unsubscribing=True) if error is not None else None
    if error is not None and error.code == "forged":
        message = page_text.forged()
    # After these, this code can never work: the page offers a new one instead of retrying.
    dead = error is not None and error.code in {"code_locked", "code_expired", "code_used"}
    return (
        render_template(
            "alerts/unsubscribe_verify.html",
            pending_token=(
                tokens.unsubscribe_token(_secret(), pending) if pending is not None else None
            ),
            form_token=tokens.form_token(_secret()),
            digits=pending.phone_hint if pending is not None else "",
            minutes=verification.CODE_MINUTES,
            error=message,
            dead=dead or pending is None,
        ),
        status,
    )


@bp.get("/unsubscribe/verify")
def unsubscribe_verify_start_again() -> Page:
    """Without the form's state there is nothing to confirm: start again."""
    return _unsubscribe_verify_page(None)


@bp.post("/unsubscribe/verify")
def unsubscribe_verify() -> Page:
    """Check the code; if right, the number gets no more alerts, for any place."""
    pending = tokens.read_unsubscribe_token(_secret(), request.form.get("pending", ""))
    if pending is None:
        return _unsubscribe_verify_page(None, status=400)
    if not _form_is_genuine():
        return _unsubscribe_verify_page(
            pending, error=HavenError("forged", code="forged"), status=400
        )
    try:
        unsubscribe.confirm(
            session=get_session(),
            pending=pending,
            code=request.form.get("code", "")[:50],
            throttle=get_throttle(),
            sms=wiring.sms_provider(),
        )
    except HavenError as error:
        return _unsubscribe_verify_page(pending, error=error, status=error.status)
    return render_template("alerts/unsubscribe_done.html"), 200


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
