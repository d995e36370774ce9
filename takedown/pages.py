"""Take It Down pages: send fingerprints of pictures, then check or withdraw the case.

The pages are HTML and translated text only (the platforms page reads the platform registry);
hashing runs in the browser (static/takedown/hashing/) and the scripts talk to the JSON API
(takedown/api.py), so no picture and no byte of a file ever reaches these routes. Anonymous:
no address is logged and no cookie but the language is set.
"""

from __future__ import annotations

from babel import Locale
from babel.numbers import format_decimal
from babel.units import format_unit
from flask import Blueprint, current_app, render_template, request, url_for
from flask.blueprints import BlueprintSetupState
from flask_babel import get_locale, gettext, ngettext

from haven.db import get_session
from haven.privacy import anonymous
from haven.settings import Settings, contact_kind, get_settings
from takedown.help import HelpView, help_view, load_help
from takedown.service import list_participating_platforms

bp = anonymous(Blueprint("takedown_pages", __name__))
HELP = "takedown.help"


@bp.record_once
def _load_help(state: BlueprintSetupState) -> None:
    # Loaded once; the bundled file is checked here too, so a mistake in it stops start-up.
    state.app.extensions[HELP] = load_help(state.app.extensions["haven.settings"].help_file)


@bp.app_template_global()
def takedown_help() -> HelpView:
    """The help section of the current page (templates/takedown/_help.html), for the country
    the person asked for with `?country=` (never guessed from the request)."""
    return help_view(
        current_app.extensions[HELP],
        asked_country=request.args.get("country"),
        locale=get_locale() or Locale("en"),
        translate=gettext,
    )


@bp.app_template_global()
def takedown_service_name() -> str:
    """What the pages call the service: the operator's name for it (HAVEN_TAKEDOWN_SERVICE_NAME,
    "Take It Down" only if they run that), else neutral, translated wording."""
    return get_settings().takedown_service_name or gettext(
        # Translators: the name of the service on these pages: the main heading, the page
        # titles and the front page's button. Plain words, not a brand name.
        "Stop nude images of you spreading"
    )


@bp.context_processor
def _operator() -> dict[str, object]:
    """Who runs this Haven, for the footer (templates/takedown/_footer.html) and the privacy
    notice; `contact_href` is a mailto:, https: or tel: link to the contact."""
    settings = get_settings()
    contact = settings.operator_contact
    kind = contact_kind(contact) if contact else None
    href = {
        "email": f"mailto:{contact}",
        "url": contact,
        "phone": "tel:" + "".join(c for c in contact or "" if c.isdigit() or c == "+"),
    }.get(kind or "")
    return {
        "operator": {
            "name": settings.operator_name,
            "url": settings.operator_url,
            "contact": contact,
            "contact_href": href,
        }
    }


def _number(value: int) -> str:
    """`value` as the page's language writes numbers (Latin digits, as the scripts use)."""
    return format_decimal(value, locale=get_locale())


def _status_url(settings: Settings) -> str:
    return settings.public_url.rstrip("/") + url_for(".status")


def _api_errors(settings: Settings) -> dict[str, str]:
    """Kind messages for the API's error codes (the server's English message is never shown)."""
    return {
        "case_not_found": gettext(
            "We couldn't find a case with that case number and PIN. Check both and try again."
        ),
        # Checked in the browser too (static/takedown/status.js), before anything is sent.
        "case_number_mistyped": gettext(
            "This case number has a typo: its last character doesn't match the others. Please "
            "check it against the case number you were given."
        ),
        # Translators: after several wrong PINs. %(wait)s is a length of time, already
        # translated, e.g. "5 minutes" or "1 hour". The case is never locked: the right PIN
        # works once the wait is over.
        "wait_to_retry": gettext(
            "There have been several wrong tries. To keep the case safe, please wait "
            "%(wait)s, then try again. The right PIN will work then."
        ),
        # Translators: shown when the wait after wrong PINs is over.
        "retry_now": gettext("You can try again now."),
        "rate_limited": gettext(
            "There have been a lot of tries. Please wait a minute, then try again."
        ),
        "network": gettext(
            "We couldn't reach Haven. Check your internet connection and try again."
        ),
        "internal": gettext("Something went wrong on our side. Please try again in a few minutes."),
    }


def _number_format() -> dict[str, str]:
    """What the scripts need to write a count or a file size the way Babel does in the page's
    language (they never format with the browser's own locale data, which lacks some
    languages): the decimal sign; the group sign and group sizes of a whole number ("3 2":
    the last group has 3 digits, the others 2, as Hindi writes 12,34,567; static/takedown/
    strings.js formatCount); and each size unit's pattern ("%(size)s MB"). Sizes are below
    1,000 of their unit, so they need no grouping."""
    locale = get_locale() or Locale("en")
    units = ("byte", "kilobyte", "megabyte", "gigabyte")
    last, other = locale.decimal_formats[None].grouping
    return {
        "number_decimal": locale.number_symbols["latn"]["decimal"],
        "number_group": locale.number_symbols["latn"]["group"],
        "number_grouping": f"{last} {other}",
        **{
            f"size_{unit}": format_unit(
                "%(size)s", f"digital-{unit}", length="short", locale=locale
            )
            for unit in units
        },
    }


def _sent_counts() -> dict[str, str]:
    """The counted lines of the review's list, with their numbers written in the page's
    language: "sent_pictures_1", "sent_pictures_2", "sent_files_1" and "sent_videos_1"."""

    def pictures(n: int) -> str:
        # Translators: in the list of what will be sent, under a file's name. A picture
        # fingerprint (PDQ) finds copies that were resized or saved again.
        text: str = ngettext(
            "%(count)s picture fingerprint", "%(count)s picture fingerprints", n, count=_number(n)
        )
        return text

    return {
        "sent_pictures_1": pictures(1),
        "sent_pictures_2": pictures(2),
        # Translators: in the list of what will be sent, under a file's name. A file
        # fingerprint (MD5) finds exact copies of the file only.
        "sent_files_1": ngettext(
            "%(count)s file fingerprint", "%(count)s file fingerprints", 1, count=_number(1)
        ),
        # Translators: in the list of what will be sent, under a video's name.
        "sent_videos_1": ngettext(
            "%(count)s video fingerprint", "%(count)s video fingerprints", 1, count=_number(1)
        ),
    }


def _flow_strings(settings: Settings) -> dict[str, str]:
    max_hashes = settings.max_case_hashes
    return {
        # Translators: under a chosen file's name: its kind and size, e.g. "Photo · 2.1 MB".
        "photo": gettext("Photo · %(size)s"),
        # Translators: under a chosen file's name: its kind and size, e.g. "Video · 40 MB".
        "video": gettext("Video · %(size)s"),
        # Translators: under a chosen file's name, when it is neither a photo nor a video.
        "other": gettext("File · %(size)s"),
        "hashing": gettext("Making the fingerprint…"),
        "ready": gettext("Fingerprint ready"),
        "weak": gettext(
            "This picture is too plain or too small to be matched reliably. Only its exact "
            "fingerprint will be sent: it finds exact copies only."
        ),
        "undecodable": gettext(
            "This browser can't open this picture. Only its exact fingerprint will be sent: "
            "it finds exact copies only."
        ),
        "video_undecodable": gettext(
            "This browser can't play this video, so only its exact fingerprint will be sent: "
            "it finds exact copies of this file only, not copies that were changed or saved "
            "again."
        ),
        "video_weak": gettext(
            "This video is too dark or too plain to be matched reliably. Only its exact "
            "fingerprint will be sent: it finds exact copies only."
        ),
        "video_too_long": gettext(
            "This video is too long for a video fingerprint. Only its exact fingerprint will "
            "be sent: it finds exact copies only."
        ),
        "unsupported": gettext("This file isn't a photo or a video, so it will not be sent."),
        "failed": gettext(
            "This browser couldn't make a fingerprint of this file. Please try an up-to-date "
            "browser."
        ),
        "duplicate": gettext("You chose the same file twice, so it is in the list only once."),
        # Translators: button next to a chosen file; takes it off the list (it stays on the
        # device).
        "remove": gettext("Remove"),
        # Translators: spoken label of the Remove button; %(name)s is the file's name.
        "remove_named": gettext("Remove %(name)s"),
        # Translators: button next to a file while its fingerprint is being made (a long
        # video takes minutes); stops that and takes the file off the list.
        "cancel": gettext("Cancel"),
        # Translators: spoken label of that Cancel button; %(name)s is the file's name.
        "cancel_named": gettext("Stop fingerprinting %(name)s"),
        "progress": gettext("Fingerprints made: %(done)s of %(total)s"),
        "ready_all": gettext("Ready. Nothing has been sent yet."),
        # The review's plain-words list of what each file sends (flow.js showSummary); a file
        # sends at most two picture fingerprints and one file or video fingerprint.
        **_sent_counts(),
        # Translators: under "2 picture fingerprints" in the list of what will be sent, for
        # a phone photo that is stored sideways and shown turned upright.
        "sent_two_ways": gettext(
            "One is of the photo as it is stored and one as it is shown, because apps and "
            "websites may keep it either way."
        ),
        # Translators: in the list of what will be sent, under a file whose picture or video
        # fingerprint is the same as that of a file above it (a copy of the same picture).
        "sent_shared": gettext(
            "One of its fingerprints is the same as another file's, so it is sent only once."
        ),
        # Translators: in the list of what will be sent, for a file that sends nothing.
        "sent_nothing": gettext("Nothing is sent for this file."),
        "too_many": ngettext(
            "One case can hold up to %(max)s fingerprint. Remove some files, and send them in "
            "a second case.",
            "One case can hold up to %(max)s fingerprints. Remove some files, and send them in "
            "a second case.",
            max_hashes,
            max=_number(max_hashes),
        ),
        "too_much_video": gettext(
            "These videos are too long to send in one case. Remove some, and send them in a "
            "second case."
        ),
        "sending": gettext("Sending the fingerprints…"),
        "invalid": gettext(
            "Haven couldn't accept these fingerprints. Please reload the page and choose the "
            "files again."
        ),
        "copied": gettext("Copied. Paste the codes somewhere only you can see."),
        "copy_failed": gettext("Copying didn't work here. Please write the codes down."),
        # Translators: the first line of the saved codes file; %(service)s is the service's
        # name as the page's heading shows it.
        "file_title": gettext("Haven: %(service)s", service=takedown_service_name()),
        "file_case": gettext("Case number: %(number)s"),
        "file_pin": gettext("PIN: %(pin)s"),
        "file_status": gettext("Check progress or withdraw at: %(url)s"),
        "file_private": gettext(
            "Keep this private. Anyone with both codes can see the case and withdraw it."
        ),
        "status_url": _status_url(settings),
        **_api_errors(settings),
        **_number_format(),
    }


def _status_strings(settings: Settings) -> dict[str, str]:
    return {
        "missing": gettext("Please enter both the case number and the PIN."),
        "case_title": gettext("Case %(number)s"),
        "active": gettext(
            "This case is open. Platforms that work with Haven look for copies once they have "
            "collected the fingerprints."
        ),
        "withdrawn": gettext(
            "This case is withdrawn. Each platform is told to stop looking for these pictures "
            "the next time it collects fingerprints from Haven."
        ),
        # Translators: how many platforms have collected the fingerprints, e.g. "2 of 5".
        "of": gettext("%(done)s of %(total)s"),
        "withdrawn_now": gettext("Your case is withdrawn."),
        **_api_errors(settings),
        **_number_format(),
    }


@bp.get("/takedown/")
def flow() -> str:
    """Choose pictures, see their fingerprints, send them, keep the case number and PIN."""
    settings = get_settings()
    return render_template(
        "takedown/flow.html",
        strings=_flow_strings(settings),
        status_url=_status_url(settings),
        max_hashes=settings.max_case_hashes,
        min_quality=settings.min_pdq_quality,
        max_vpdq_frames=settings.vpdq_max_frames,
        max_vpdq_bytes=settings.case_max_vpdq_bytes,
    )


@bp.get("/takedown/status")
def status() -> str:
    """Check a case's progress with its number and PIN, and withdraw it."""
    return render_template("takedown/status.html", strings=_status_strings(get_settings()))


@bp.get("/takedown/faq")
def faq() -> str:
    """Questions and answers: what is sent, what platforms do, timing, withdrawal."""
    settings = get_settings()
    # The page sends a PDQ from this quality up (static/takedown/flow.js: never below 50).
    min_quality = max(50, settings.min_pdq_quality)
    return render_template("takedown/faq.html", min_quality=_number(min_quality))


@bp.get("/takedown/privacy")
def privacy() -> str:
    """The privacy notice: what is kept, what platforms receive, the cookie, who runs it."""
    return render_template("takedown/privacy.html")


@bp.get("/takedown/platforms")
def platforms() -> str:
    """The participating platforms that agreed to be named (`haven platform public-name`)."""
    listed = list_participating_platforms(session=get_session())
    return render_template(
        "takedown/platforms.html",
        named=listed.named,
        unnamed=listed.unnamed,
        unnamed_count=_number(listed.unnamed),
    )
