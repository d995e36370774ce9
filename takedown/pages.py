"""Take It Down pages: send fingerprints of pictures, then check or withdraw the case.

The pages are HTML and translated text only. Hashing runs in the browser
(static/takedown/hashing/) and the scripts talk to the JSON API (takedown/api.py), so no
picture and no byte of a file ever reaches these routes. Anonymous: no address is logged and
no cookie but the language is set.
"""

from __future__ import annotations

from babel.numbers import format_decimal
from flask import Blueprint, render_template, url_for
from flask_babel import get_locale, gettext, ngettext

from haven.privacy import anonymous
from haven.settings import Settings, get_settings

bp = anonymous(Blueprint("takedown_pages", __name__))


def _number(value: int) -> str:
    """`value` as the page's language writes numbers (Latin digits, as the scripts use)."""
    return format_decimal(value, locale=get_locale())


def _status_url(settings: Settings) -> str:
    return settings.public_url.rstrip("/") + url_for(".status")


def _api_errors(settings: Settings) -> dict[str, str]:
    """Kind messages for the API's error codes (the server's English message is never shown)."""
    minutes = settings.pin_lockout_minutes
    return {
        "case_not_found": gettext(
            "We couldn't find a case with that case number and PIN. Check both and try again."
        ),
        "locked": ngettext(
            "There were too many wrong tries, so this case is locked for %(minutes)s minute. "
            "This keeps it safe. Please try again after that.",
            "There were too many wrong tries, so this case is locked for %(minutes)s minutes. "
            "This keeps it safe. Please try again after that.",
            minutes,
            minutes=_number(minutes),
        ),
        "rate_limited": gettext(
            "There have been a lot of tries. Please wait a minute, then try again."
        ),
        "network": gettext(
            "We couldn't reach Haven. Check your internet connection and try again."
        ),
        "internal": gettext("Something went wrong on our side. Please try again in a few minutes."),
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
        "file_title": gettext("Haven: Take it down"),
        "file_case": gettext("Case number: %(number)s"),
        "file_pin": gettext("PIN: %(pin)s"),
        "file_status": gettext("Check progress or withdraw at: %(url)s"),
        "file_private": gettext(
            "Keep this private. Anyone with both codes can see the case and withdraw it."
        ),
        "status_url": _status_url(settings),
        **_api_errors(settings),
    }


def _status_strings(settings: Settings) -> dict[str, str]:
    return {
        "missing": gettext("Please enter both the case number and the PIN."),
        "case_title": gettext("Case %(number)s"),
        "active": gettext("Platforms that work with Haven are looking for copies."),
        "withdrawn": gettext(
            "This case is withdrawn. Platforms have been told to stop looking for these pictures."
        ),
        # Translators: how many platforms have collected the fingerprints, e.g. "2 of 5".
        "of": gettext("%(done)s of %(total)s"),
        "withdrawn_now": gettext("Your case is withdrawn."),
        **_api_errors(settings),
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
