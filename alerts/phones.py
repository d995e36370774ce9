"""Phone numbers in E.164, fast enough for bulk imports.

`phonenumbers` costs ~50 µs a number. In the North American Numbering Plan a number's
validity depends only on its area code and exchange (NPA-NXX): the library's patterns are
`<NPA list>[2-9]\\d{6}`. So a NANP number is checked by the library once per NPA-NXX and the
answer reused; anything else takes the library's full path.
"""

from __future__ import annotations

import functools
import re

import phonenumbers

_NOISE = re.compile(r"[\s().\-]")
_NANP = re.compile(r"\+?1?([2-9]\d{2}[2-9]\d{6})")


def to_e164(text: str, region: str = "US") -> str:
    """`text` as an E.164 number, or ValueError saying it is not a valid phone number."""
    compact = _NOISE.sub("", text)
    nanp = _NANP.fullmatch(compact)
    if nanp and (compact.startswith("+1") or not compact.startswith("+")) and region == "US":
        national = nanp[1]
        if not _nanp_exchange_is_valid(national[:6]):
            raise ValueError(f"{text!r} is not a valid phone number")
        return "+1" + national
    return _slow_e164(text, region)


@functools.lru_cache(maxsize=100_000)
def _nanp_exchange_is_valid(npa_nxx: str) -> bool:
    number = phonenumbers.parse("+1" + npa_nxx + "0000", None)
    return phonenumbers.is_valid_number(number)


def _slow_e164(text: str, region: str) -> str:
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"{text!r} is not a phone number") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError(f"{text!r} is not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
