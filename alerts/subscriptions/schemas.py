"""Request and response shapes of subscriptions: Twilio's and Vonage's inbound webhooks,
channels, the form."""

from __future__ import annotations

import dataclasses
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    field_validator,
    model_validator,
)
from werkzeug.datastructures import MultiDict

from geo.locations import MAX_LOCATIONS_PER_SUBSCRIBER
from haven.languages import LANGUAGES
from haven.web import Out, Strict

# Twilio joins a long message into one Body of at most 1,600 characters.
MAX_BODY = 1600
MAX_URL = 2000
# Web form fields are short; anything longer is not a phone number or a ZIP code list.
MAX_FIELD = 200


class TwilioInboundIn(BaseModel):
    """An incoming text message, as Twilio posts it (form-encoded; other fields are ignored)."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False)

    # An SMS sender is a phone number in E.164; "whatsapp:+1..." and other channels are not.
    From: str = Field(pattern=r"^\+?\d{3,15}$", description="The sender's number (E.164).")
    Body: str = Field(max_length=MAX_BODY, description="The message text.")
    To: str | None = Field(default=None, max_length=64, description="Haven's number.")
    MessageSid: str | None = Field(default=None, max_length=64)
    AccountSid: str | None = Field(default=None, max_length=64)


class VonageInboundIn(BaseModel):
    """An incoming text message, as Vonage's SMS API posts it (signed; other fields ignored)."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False, populate_by_name=True)

    # Vonage gives the sender's number in E.164 without the "+".
    msisdn: str = Field(pattern=r"^\+?\d{3,15}$", description="The sender's number.")
    text: str = Field(max_length=MAX_BODY, description="The message text.")
    to: str | None = Field(default=None, max_length=64, description="Haven's number.")
    messageId: str | None = Field(default=None, max_length=64)
    concat: str | None = Field(default=None, max_length=8, description='"true" for a part.')


class PointIn(Strict):
    """A place given by its coordinates (WGS 84 degrees)."""

    lat: StrictFloat = Field(ge=-90, le=90, allow_inf_nan=False)
    lon: StrictFloat = Field(ge=-180, le=180, allow_inf_nan=False)


class ChannelIn(Strict):
    """A channel subscription: an Apprise URL, its places, and the language of its messages."""

    url: str = Field(
        min_length=3,
        max_length=MAX_URL,
        description="An Apprise URL: mailto://, mailtos://, ntfy://, ntfys://, json://, jsons://,"
        " pover://, tgram://, discord:// or slack://.",
    )
    zips: list[str] = Field(default_factory=list, max_length=MAX_LOCATIONS_PER_SUBSCRIBER)
    points: list[PointIn] = Field(default_factory=list, max_length=MAX_LOCATIONS_PER_SUBSCRIBER)
    language: str = Field(default="en", description="One of Haven's language codes.")

    @field_validator("language")
    @classmethod
    def _known_language(cls, language: str) -> str:
        if language not in LANGUAGES:
            raise ValueError(
                f"unsupported language {language!r}; use one of {', '.join(LANGUAGES)}"
            )
        return language

    @model_validator(mode="after")
    def _one_to_five_places(self) -> ChannelIn:
        places = len(self.zips) + len(self.points)
        if not 1 <= places <= MAX_LOCATIONS_PER_SUBSCRIBER:
            raise ValueError(
                f"give 1 to {MAX_LOCATIONS_PER_SUBSCRIBER} places in zips and points together"
            )
        return self


class ChannelOut(Out):
    """The channel waits for its confirmation link to be opened."""

    status: Literal["pending"]
    message: str


@dataclasses.dataclass(frozen=True)
class SubscribeForm:
    """The web form as typed: nothing here is validated yet (see `service.read_form`)."""

    phone: str = ""
    zips: str = ""
    points: tuple[tuple[str, str], ...] = (("", ""),)
    language: str = "en"

    @classmethod
    def from_form(cls, form: MultiDict[str, str], *, default_language: str) -> SubscribeForm:
        """The fields of a posted form, cut to sane lengths."""
        lats, lons = form.getlist("lat"), form.getlist("lon")
        points = tuple(
            (lat[:MAX_FIELD].strip(), lon[:MAX_FIELD].strip())
            for lat, lon in zip(lats, lons, strict=False)
        )[:MAX_LOCATIONS_PER_SUBSCRIBER]
        return cls(
            phone=form.get("phone", "")[:MAX_FIELD].strip(),
            zips=form.get("zips", "")[:MAX_FIELD].strip(),
            points=points or (("", ""),),
            language=form.get("language", default_language)[:MAX_FIELD],
        )
