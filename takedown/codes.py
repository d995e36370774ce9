"""Case numbers and PINs: short, unambiguous when read aloud or typed, and checkable.

The alphabet leaves out 0/O, 1/I/L so nobody has to guess which one they saw. A case number
ends with an ISO 7064 pure-system check character (modulus 31, a prime, so Luhn's even-modulus
trick does not apply): it catches every single mistyped character and every swap of two
neighbours before a lookup is even tried.
"""

from __future__ import annotations

import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from stdnum.iso7064 import mod_37_2

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CASE_BODY_LENGTH = 8
PIN_LENGTH = 10
_SEPARATORS = re.compile(r"[\s\-_.]+")

# A PIN has ~49 random bits, so even a modest Argon2id cost (about 2 ms here) makes an offline
# search of a stolen database take tens of thousands of core-years, while keeping submissions
# cheap enough for hundreds a second; online guessing is throttled per case.
_pins = PasswordHasher(time_cost=1, memory_cost=4 * 1024, parallelism=1)


def _random(length: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


# Verified, and ignored, when there is no case: the same parameters as real PIN hashes, so an
# unknown case number costs what a known one with a wrong PIN does. Random per process, so no
# PIN could ever match it.
_DUMMY_HASH = _pins.hash(_random(PIN_LENGTH))


def new_case_number() -> str:
    """A fresh case number: 8 random characters and a check character (normalised form)."""
    body = _random(CASE_BODY_LENGTH)
    return body + mod_37_2.calc_check_digit(body, alphabet=ALPHABET)


def normalise(text: str) -> str:
    """Upper-case, separators removed: how people type codes is not how they are stored."""
    return _SEPARATORS.sub("", text).upper()


def is_valid_case_number(number: str) -> bool:
    """Whether a normalised case number has the right form and check character."""
    if len(number) != CASE_BODY_LENGTH + 1 or any(c not in ALPHABET for c in number):
        return False
    return mod_37_2.is_valid(number, alphabet=ALPHABET)


def display(code: str, group: int) -> str:
    """A code grouped for reading aloud, e.g. `ABC-DEF-GHJ`."""
    return "-".join(code[i : i + group] for i in range(0, len(code), group))


def display_case_number(number: str) -> str:
    """A case number as people see it: three groups of three."""
    return display(number, 3)


def display_pin(pin: str) -> str:
    """A PIN as people see it: two groups of five."""
    return display(pin, 5)


def new_pin() -> str:
    """A fresh PIN, shown once and never stored."""
    return _random(PIN_LENGTH)


def hash_pin(pin: str) -> str:
    """The stored, slow hash of a PIN."""
    return _pins.hash(normalise(pin))


def verify_pin(pin_hash: str | None, pin: str) -> bool:
    """Whether `pin` matches; with no hash, verifies against a dummy hash (the same time spent)
    and answers no. Call it whether or not a case was found."""
    try:
        matched = _pins.verify(pin_hash or _DUMMY_HASH, normalise(pin))
    except (VerificationError, InvalidHashError):
        return False
    return matched and pin_hash is not None
