"""What the subscription pages say besides their templates: the message for each refused
form, the strings of static/alerts/subscribe.js, and the number to text as a link.

Every sentence goes through gettext (STYLE.md rule 13); the services' English messages never
reach a page.
"""

from __future__ import annotations

from typing import Any

import flask_babel
from flask import get_template_attribute
from markupsafe import Markup, escape

from alerts.subscriptions import verification
from alerts.subscriptions.text_number import TextNumber
from geo.locations import MAX_LOCATIONS_PER_SUBSCRIBER
from haven.errors import HavenError
from haven.settings import get_settings


def gettext(text: str, **values: object) -> str:
    """Flask-Babel's gettext, typed (it ships no hints)."""
    return str(flask_babel.gettext(text, **values))


def ngettext(singular: str, plural: str, num: int, **values: object) -> str:
    """Flask-Babel's ngettext, typed; `num` is also %(num)s."""
    return str(flask_babel.ngettext(singular, plural, num, **values))


def text_number_link(number: TextNumber) -> Markup:
    """The number as the pages show it: an sms: link, left to right in any language."""
    link: Markup = get_template_attribute("alerts/_text_number.html", "link")(number)
    return link


def forged() -> str:
    """For a form whose token is stale or forged, or that came from another site."""
    return gettext(
        "This form was open for a long time, or was sent from another site. Please check it "
        "and send it again."
    )


def error_message(error: HavenError, *, unsubscribing: bool = False) -> str:
    """What a person reads for a refused form (the service's English message never shows).

    When `unsubscribing`, a limit per number says nothing about codes sent: that number may
    have been sent none."""
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
    if code == "rate_limited" and details.get("per") == "phone" and unsubscribing:
        return gettext(
            "Codes have been asked for this number several times already. To protect it from "
            "unwanted texts, no more are sent for now. Please try again later, or reply STOP "
            "to any of our text messages."
        )
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
        return not_sent_message()
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


def not_sent_message() -> str:
    """For a code the provider did not take: most often a number that once texted STOP, so
    it says where to text START (as a link) when the number to text is known."""
    number = TextNumber.from_settings(get_settings())
    if number is None:
        return gettext(
            "We couldn't send a text to this number. Please check it and try again. If you "
            "once texted STOP to Haven AMBER Alerts, reply START to any of its messages first."
        )
    # Translators: %(number)s is the number to text (a link that opens the phone's messages).
    text = gettext(
        "We couldn't send a text to this number. Please check it and try again. If you once "
        "texted STOP to Haven AMBER Alerts, text START to %(number)s first."
    )
    # The translation escaped, the link kept: escape() gives Markup, whose % escapes
    # every value that is not Markup itself.
    return escape(text) % {"number": text_number_link(number)}


# Which form field an error is about, so the page can point at it.
ERROR_FIELDS = {
    "phone": "phone",
    "bad_zip": "zips",
    "unknown_zip": "zips",
    "places_missing": "zips",
    "too_many_places": "zips",
    "language": "language",
}


def script_strings() -> dict[str, str]:
    """Text for subscribe.js."""
    return {
        "locating": gettext("Finding your location…"),
        # Translators: said when "Use my current location" has filled in a point's
        # coordinates; %(num)s is the number of that point (1, 2...), as in "Point %(num)s".
        "located": gettext(
            "Your location is filled in as Point %(num)s. Check it before you send the form."
        ),
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
