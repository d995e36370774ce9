"""Request and response shapes of the Take It Down API, with their validation."""

from __future__ import annotations

import datetime
import re
from typing import Any, Literal

from pydantic import Field, StrictInt, ValidationInfo, field_validator, model_validator

from haven.languages import LANGUAGES
from haven.web import Out, Strict
from takedown import vpdq

# A vpdq hash's value is a signal string on input, and the 64-hex digest of its canonical
# spelling everywhere else (feed, export, case status, feedback): the length here is the digest's.
HEX_LENGTH = {"md5": 32, "sha1": 40, "sha256": 64, "pdq": 64, "vpdq": 64}
ALGORITHMS_FOR = {
    "image": {"md5", "sha1", "sha256", "pdq"},
    "video": {"md5", "sha1", "sha256", "vpdq"},
}
_HEX = re.compile(r"[0-9a-f]*")

Media = Literal["image", "video"]
Algorithm = Literal["md5", "sha1", "sha256", "pdq", "vpdq"]
Outcome = Literal["matched", "removed", "not_violating", "unable_to_action"]
Status = Literal["active", "withdrawn"]


def check_hex(algorithm: str, value: str) -> str:
    """`value` lower-cased, or ValueError if it is not a hash of `algorithm`."""
    value = value.lower()
    length = HEX_LENGTH[algorithm]
    if len(value) != length or not _HEX.fullmatch(value):
        if algorithm == "vpdq":
            raise ValueError(
                "a vpdq hash is named here by its digest: the 64 hexadecimal characters the "
                "feed gives as its value"
            )
        raise ValueError(f"a {algorithm} hash is {length} hexadecimal characters")
    return value


class HashIn(Strict):
    """One hash computed on the family's device.

    `value` is hexadecimal, except for vpdq: the signal string python-threatexchange's
    VPDQSignal reads, a JSON array of "<pdq hex>,<quality>,<seconds>" frames (quality is
    per frame there, so `quality` is not given). Haven keeps one canonical spelling of it,
    and names it in every answer by the SHA-256 hex digest of that spelling.
    """

    media: Media
    algorithm: Algorithm
    value: str = Field(
        min_length=1,
        description="Lower- or upper-case hex; for vpdq, the JSON signal string of its frames.",
    )
    quality: StrictInt | None = Field(default=None, ge=0, le=100)

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> HashIn:
        if self.algorithm not in ALGORITHMS_FOR[self.media]:
            raise ValueError(f"{self.algorithm} is not offered for {self.media}s")
        context = info.context or {}
        minimum = context.get("min_pdq_quality", 50)
        if self.algorithm == "vpdq":
            if self.quality is not None:
                raise ValueError(
                    "quality is not given for vpdq hashes: each frame carries its own, in value"
                )
            self.value = vpdq.canonical_signal(
                self.value,
                max_frames=context.get("vpdq_max_frames", 3600),
                min_quality=minimum,
            )
            return self
        self.value = check_hex(self.algorithm, self.value)
        if self.algorithm != "pdq":
            if self.quality is not None:
                raise ValueError("quality is given for pdq hashes only")
            return self
        if self.quality is None:
            raise ValueError("a pdq hash needs its quality (0-100)")
        if self.quality < minimum:
            raise ValueError(
                f"pdq quality {self.quality} is below {minimum}: this image's hash is too weak "
                "to match safely, so it would not help; it was not submitted"
            )
        return self


class CaseIn(Strict):
    """A new removal case: only hashes, never images, never anything about the person."""

    hashes: list[HashIn] = Field(min_length=1)

    @field_validator("hashes")
    @classmethod
    def _not_too_many(cls, hashes: list[HashIn], info: ValidationInfo) -> list[HashIn]:
        context = info.context or {}
        maximum = context.get("max_case_hashes", 100)
        if len(hashes) > maximum:
            raise ValueError(f"a case holds at most {maximum} hashes; split it into more cases")
        most_bytes = context.get("case_max_vpdq_bytes", 1024 * 1024)
        used = sum(len(value) for value in {h.value for h in hashes if h.algorithm == "vpdq"})
        if used > most_bytes:
            raise ValueError(
                f"a case holds at most {most_bytes} bytes of vpdq frames; these take {used}: "
                "split the videos into more cases"
            )
        return hashes


class CaseCreated(Out):
    """The new case's number and PIN. The PIN is shown only this once."""

    case_number: str
    pin: str
    hashes: int


class Feedback(Out):
    """How many platforms reported an outcome, and how many items in all."""

    platforms: int
    count: int


class CaseHashOut(Out):
    """One hash of a case, with what platforms did about it."""

    media: Media
    algorithm: Algorithm
    value: str = Field(description="The hash; for vpdq, the SHA-256 hex digest of `features`.")
    features: str | None = Field(
        default=None, description="vpdq only: the canonical signal string of its frames."
    )
    status: Status
    platforms_fetched: int
    feedback: dict[Outcome, Feedback]


class CaseQuery(Strict):
    """The language a case's dates, counts and waits are written in for its page."""

    lang: str | None = Field(
        default=None,
        description="One of Haven's language codes (haven/languages.py); default: the best "
        "match of Accept-Language.",
    )

    @field_validator("lang")
    @classmethod
    def _known(cls, lang: str | None) -> str | None:
        if lang is not None and lang not in LANGUAGES:
            raise ValueError(f"{lang!r} is not one of Haven's languages")
        return lang


class CaseStatusText(Out):
    """A case's dates and counts as its page shows them, written by Babel in `lang` (so a
    browser without that language's locale data never formats them)."""

    lang: str
    submitted: str
    withdrawn: str | None
    hashes: str
    platforms_fetched: str = Field(description="Platforms that have fetched every hash.")
    platforms: str
    removed: str
    matched: str
    kept: str = Field(description="Copies reported as not violating or unable to action.")


class CaseStatusOut(Out):
    """A case as its family sees it."""

    case_number: str
    status: Status
    submitted: datetime.datetime
    withdrawn: datetime.datetime | None
    platforms: int
    hashes: list[CaseHashOut]
    text: CaseStatusText | None = None


class CursorQuery(Strict):
    """Where to continue the feed from, and how much to take."""

    after: str = Field(default="0", pattern=r"^[0-9]{1,18}$")
    limit: int = Field(default=1000, ge=1, le=10_000)


class ChangeOut(Out):
    """One change in the feed."""

    cursor: str
    media: Media
    algorithm: Algorithm
    value: str = Field(description="The hash; for vpdq, the SHA-256 hex digest of `features`.")
    features: str | None = Field(
        default=None,
        description="vpdq only (absent otherwise): the canonical signal string of its frames, "
        "as python-threatexchange's VPDQSignal reads it.",
    )
    status: Status
    changed_at: datetime.datetime


class FeedPage(Out):
    """A page of the feed; poll again from `next`."""

    changes: list[ChangeOut]
    next: str
    has_more: bool


_FEEDBACK_VALUE = "The hash, as the feed gives it (for vpdq, the 64-hex digest of its frames)."


class FeedbackIn(Strict):
    """A platform's report on one hash."""

    algorithm: Algorithm
    value: str = Field(min_length=1, max_length=64, description=_FEEDBACK_VALUE)
    outcome: Outcome
    count: StrictInt = Field(default=1, ge=1, le=1_000_000)

    @model_validator(mode="after")
    def _hex(self) -> FeedbackIn:
        self.value = check_hex(self.algorithm, self.value)
        return self


class FeedbackOut(Out):
    """This platform's own feedback on one hash."""

    algorithm: Algorithm
    value: str
    outcome: Outcome
    count: int


class FeedbackList(Out):
    """This platform's own feedback."""

    feedback: list[FeedbackOut]


class FeedbackQuery(Strict):
    """Which hash's feedback to list."""

    algorithm: Algorithm
    value: str = Field(min_length=1, max_length=64, description=_FEEDBACK_VALUE)

    @model_validator(mode="after")
    def _hex(self) -> FeedbackQuery:
        self.value = check_hex(self.algorithm, self.value)
        return self


def as_dict(model: Out) -> dict[str, Any]:
    """A response model as JSON-ready data."""
    return model.model_dump(mode="json")
