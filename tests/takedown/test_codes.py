"""Case numbers and PINs."""

from __future__ import annotations

import pytest

from takedown import codes


def test_case_number_check_character_catches_every_single_typo_and_neighbour_swap() -> None:
    for _ in range(200):
        number = codes.new_case_number()
        assert codes.is_valid_case_number(number)
        for i, original in enumerate(number):
            for typo in codes.ALPHABET.replace(original, ""):
                assert not codes.is_valid_case_number(number[:i] + typo + number[i + 1 :])
            if i + 1 < len(number) and number[i] != number[i + 1]:
                swapped = number[:i] + number[i + 1] + number[i] + number[i + 2 :]
                assert not codes.is_valid_case_number(swapped)


@pytest.mark.parametrize("ambiguous", ["0", "O", "1", "I", "L"])
def test_codes_never_use_characters_that_are_easily_confused(ambiguous: str) -> None:
    assert ambiguous not in codes.ALPHABET
    assert all(ambiguous not in codes.new_case_number() + codes.new_pin() for _ in range(100))


def test_people_may_type_codes_in_lower_case_with_spaces_or_dashes() -> None:
    number = codes.new_case_number()
    typed = " " + codes.display_case_number(number).lower().replace("-", " - ") + " "
    assert codes.normalise(typed) == number


def test_a_pin_verifies_only_against_its_own_hash() -> None:
    pin = codes.new_pin()
    stored = codes.hash_pin(pin)
    assert pin not in stored
    assert codes.verify_pin(stored, codes.display_pin(pin).lower())
    assert not codes.verify_pin(stored, codes.new_pin())
    assert not codes.verify_pin(None, pin)
