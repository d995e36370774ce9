"""Request and response shapes of the Take It Down API, with their validation."""

from __future__ import annotations

import datetime
import re
from typing import Any, Literal

from pydantic import Field, StrictInt, ValidationInfo, field_validator, model_validator

from haven.web import Out, Strict

HEX_LENGTH = {"md5": 32, "sha1": 40, "sha256": 64, "pdq": 64}
ALGORITHMS_FOR = {"image": {"md5", "sha1", "sha256", "pdq"}, "video": {"md5", "sha1", "sha256"}}
_HEX = re.compile(r"[0-9a-f]*")

Media = Literal["image", "video"]
Algorithm = Literal["md5", "sha1", "sha256", "pdq"]
Outcome = Literal["matched", "removed", "not_violating", "unable_to_action"]
Status = Literal["active", "withdrawn"]


def check_hex(algorithm: str, value: str) -> str:
    """`value` lower-cased, or ValueError if it is not a hash of `algorithm`."""
    value = value.lower()
    length = HEX_LENGTH[algorithm]
    if len(value) != length or not _HEX.fullmatch(value):
        raise ValueError(f"a {algorithm} hash is {length} hexadecimal characters")
    return value


class HashIn(Strict):
    """One hash computed on the family's device."""

    media: Media
    algorithm: Algorithm
    value: str = Field(min_length=1, max_length=64)
    quality: StrictInt | None = Field(default=None, ge=0, le=100)

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> HashIn:
        if self.algorithm not in ALGORITHMS_FOR[self.media]:
            raise ValueError(f"{self.algorithm} is not offered for {self.media}s")
        self.value = check_hex(self.algorithm, self.value)
        if self.algorithm != "pdq":
            if self.quality is not None:
                raise ValueError("quality is given for pdq hashes only")
            return self
        if self.quality is None:
            raise ValueError("a pdq hash needs its quality (0-100)")
        minimum = (info.context or {}).get("min_pdq_quality", 50)
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
        maximum = (info.context or {}).get("max_case_hashes", 100)
        if len(hashes) > maximum:
            raise ValueError(f"a case holds at most {maximum} hashes; split it into more cases")
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
    value: str
    status: Status
    platforms_fetched: int
    feedback: dict[Outcome, Feedback]


class CaseStatusOut(Out):
    """A case as its family sees it."""

    case_number: str
    status: Status
    submitted: datetime.datetime
    withdrawn: datetime.datetime | None
    platforms: int
    hashes: list[CaseHashOut]


class CursorQuery(Strict):
    """Where to continue the feed from, and how much to take."""

    after: str = Field(default="0", pattern=r"^[0-9]{1,18}$")
    limit: int = Field(default=1000, ge=1, le=10_000)


class ChangeOut(Out):
    """One change in the feed."""

    cursor: str
    media: Media
    algorithm: Algorithm
    value: str
    status: Status
    changed_at: datetime.datetime


class FeedPage(Out):
    """A page of the feed; poll again from `next`."""

    changes: list[ChangeOut]
    next: str
    has_more: bool


class FeedbackIn(Strict):
    """A platform's report on one hash."""

    algorithm: Algorithm
    value: str = Field(min_length=1, max_length=64)
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
    value: str = Field(min_length=1, max_length=64)

    @model_validator(mode="after")
    def _hex(self) -> FeedbackQuery:
        self.value = check_hex(self.algorithm, self.value)
        return self


def as_dict(model: Out) -> dict[str, Any]:
    """A response model as JSON-ready data."""
    return model.model_dump(mode="json")
