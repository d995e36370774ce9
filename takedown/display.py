"""A case's dates, counts and waits as the families' pages show them, written by Babel.

Browsers lack locale data for some of Haven's languages (Chromium writes "2026 M12 6" for a
date in Khmer, Icelandic, Sorani and Sinhala), so the server writes every date and number a
page shows, in the page's language, and the scripts only put the text in place. Call these
inside the request's locale (`flask_babel.force_locale`).
"""

from __future__ import annotations

import math

from babel.units import format_unit
from flask_babel import format_date, format_decimal, get_locale

from takedown.schemas import CaseStatusOut, CaseStatusText

# Up to this many of a unit, a wait is said in that unit ("90 seconds", not "2 minutes").
_SAY_SECONDS_UP_TO = 90
_SAY_MINUTES_UP_TO = 90 * 60


def case_status_text(status: CaseStatusOut, lang: str) -> CaseStatusText:
    """The dates and counts of `status` as its page shows them, in the current locale."""

    def reported(*outcomes: str) -> int:
        return sum(
            h.feedback[outcome].count
            for h in status.hashes
            for outcome in outcomes
            if outcome in h.feedback
        )

    # A platform counts as having collected the case once it has every hash of it.
    fetched = min((h.platforms_fetched for h in status.hashes), default=0)
    return CaseStatusText(
        lang=lang,
        submitted=format_date(status.submitted, format="long"),
        withdrawn=format_date(status.withdrawn, format="long") if status.withdrawn else None,
        hashes=format_decimal(len(status.hashes)),
        platforms_fetched=format_decimal(fetched),
        platforms=format_decimal(status.platforms),
        removed=format_decimal(reported("removed")),
        matched=format_decimal(reported("matched")),
        kept=format_decimal(reported("not_violating", "unable_to_action")),
    )


def wait_in_words(seconds: int) -> str:
    """A wait in the current locale's words, rounded up, never down: "45 seconds",
    "3 minutes", "1 hour"."""
    if seconds <= _SAY_SECONDS_UP_TO:
        value, unit = max(1, seconds), "duration-second"
    elif seconds <= _SAY_MINUTES_UP_TO:
        value, unit = math.ceil(seconds / 60), "duration-minute"
    else:
        value, unit = math.ceil(seconds / 3600), "duration-hour"
    return format_unit(value, unit, length="long", locale=get_locale())
