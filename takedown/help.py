"""Help on every Take It Down page: where to report and whom to talk to, by country.

The resources live in a TOML data file (takedown/help.toml, or the operator's own through
HAVEN_HELP_FILE), loaded and checked once at start-up: a file with a mistake stops Haven with
a message naming the file, the place and the problem. Each text is an English sentence that
is looked up in the page's catalog, so the bundled texts (`BUNDLED_MESSAGES`) are shown
translated and an operator's own text is shown as written.

The person picks the country on the page (`?country=US`, or by opening it in the list).
Haven never guesses it from the address or the request's headers, and keeps no record of it.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from babel import Locale
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

BUNDLED_FILE = Path(__file__).with_name("help.toml")
# A number to dial or text: digits, with a leading + for an international number.
_NUMBER = r"^\+?[0-9]{3,15}$"
_ENGLISH = Locale("en")


def N_(message: str) -> str:
    """Marks `message` for the catalogs (babel.cfg) without translating it here."""
    return message


# The texts of the bundled help.toml, so that `make messages` puts them in the catalogs. A
# test checks that these are exactly the bundled file's texts.
BUNDLED_MESSAGES = (
    # Translators: the name of INHOPE's network of hotlines (inhope.org), in the help.
    N_("INHOPE hotlines"),
    N_(
        "Report sexual pictures of children online to the hotline in your country. INHOPE "
        "lists the hotlines around the world."
    ),
    # Translators: the name of a website (stopncii.org); keep it as it is.
    N_("StopNCII.org"),
    N_(
        "For pictures taken when you were 18 or older. Like this page, it makes fingerprints "
        "on your device, and the apps and websites that work with it look for copies."
    ),
    # Translators: the name of NCMEC's reporting service in the United States; keep it as it
    # is unless NCMEC uses another name in your language.
    N_("CyberTipline"),
    N_(
        "Report someone who is threatening you, or sexual pictures of you taken when you were "
        "under 18. The National Center for Missing & Exploited Children (NCMEC) runs it."
    ),
    # Translators: the name of the United States' crisis line, reached by calling or texting
    # 988.
    N_("988 Suicide & Crisis Lifeline"),
    N_(
        "If you feel scared, alone or overwhelmed, call or text 988 to talk to someone, any "
        "time, day or night. It is free and private."
    ),
    # Translators: the country's name, used only where the language's own list of country
    # names (CLDR) lacks it.
    N_("United States"),
)

_Text = Annotated[str, Field(min_length=1, max_length=1000)]
_Label = Annotated[str, Field(min_length=1, max_length=100)]
_Number = Annotated[str, Field(pattern=_NUMBER)]


class HelpFileError(ValueError):
    """The help data file can't be used; the message says where and why."""


class Resource(BaseModel):
    """One place to get help: a name, a sentence, and how to reach it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: _Label
    text: _Text
    url: str | None = None
    url_label: _Label | None = None
    phone: _Number | None = None
    phone_label: _Label | None = None
    sms: _Number | None = None
    sms_label: _Label | None = None

    @field_validator("url")
    @classmethod
    def _web_address(cls, url: str | None) -> str | None:
        if url is None:
            return None
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.netloc or re.search(r"\s", url):
            raise ValueError(f"{url!r} is not a web address starting with https://")
        return url

    @model_validator(mode="after")
    def _reachable(self) -> Resource:
        if self.url is None and self.phone is None and self.sms is None:
            raise ValueError("give a resource at least one of url, phone or sms")
        for label, value in (("url", self.url), ("phone", self.phone), ("sms", self.sms)):
            if value is None and getattr(self, f"{label}_label") is not None:
                raise ValueError(f"{label}_label is set but {label} is not")
        return self


class HelpData(BaseModel):
    """A whole help data file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default_country: str | None = None
    international: tuple[Resource, ...] = ()
    countries: dict[str, tuple[Resource, ...]] = {}

    @field_validator("countries")
    @classmethod
    def _country_codes(
        cls, countries: dict[str, tuple[Resource, ...]]
    ) -> dict[str, tuple[Resource, ...]]:
        for code, resources in countries.items():
            if not is_country_code(code):
                raise ValueError(f"{code!r} is not an ISO 3166 country code such as US")
            if not resources:
                raise ValueError(f"country {code} has no resources")
        return countries

    @model_validator(mode="after")
    def _default_is_listed(self) -> HelpData:
        if self.default_country is not None and self.default_country not in self.countries:
            raise ValueError(
                f"default_country {self.default_country!r} has no [[countries."
                f"{self.default_country}]] resources"
            )
        if not self.international and not self.countries:
            raise ValueError("the file lists no resources at all")
        return self


def is_country_code(code: str) -> bool:
    """Whether `code` is an ISO 3166-1 alpha-2 code Babel knows, in capitals."""
    return re.fullmatch(r"[A-Z]{2}", code) is not None and code in _ENGLISH.territories


def load_help(path: Path | None = None) -> HelpData:
    """The help data in `path` (default: the bundled file), checked; HelpFileError if not valid."""
    path = path or BUNDLED_FILE
    try:
        with path.open("rb") as file:
            raw = tomllib.load(file)
    except OSError as exc:
        raise HelpFileError(f"{path}: can't read it ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise HelpFileError(f"{path}: not valid TOML: {exc}") from None
    try:
        return HelpData.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'file'}: {error['msg']}"
            for error in exc.errors()
        )
        raise HelpFileError(f"{path}: {problems}") from None


@dataclasses.dataclass(frozen=True)
class Contact:
    """One way to reach a resource, as the page links it."""

    kind: str  # "web", "call" or "text"
    href: str
    label: str


@dataclasses.dataclass(frozen=True)
class ShownResource:
    """A resource in the page's language."""

    name: str
    text: str
    contacts: tuple[Contact, ...]


@dataclasses.dataclass(frozen=True)
class ShownCountry:
    """A country of the list, named in the page's language, with its resources."""

    code: str
    name: str
    resources: tuple[ShownResource, ...]
    selected: bool


@dataclasses.dataclass(frozen=True)
class HelpView:
    """What the help section shows on one page."""

    countries: tuple[ShownCountry, ...]
    international: tuple[ShownResource, ...]
    # The person asked for a country (`?country=`): open the help at once.
    asked: bool
    # ... and it was not one the list has: say so, and select none.
    unknown_country: bool


def _shown(resource: Resource, translate: Callable[[str], str]) -> ShownResource:
    contacts = []
    if resource.phone:
        contacts.append(
            Contact("call", f"tel:{resource.phone}", resource.phone_label or resource.phone)
        )
    if resource.sms:
        contacts.append(Contact("text", f"sms:{resource.sms}", resource.sms_label or resource.sms))
    if resource.url:
        host = urlsplit(resource.url).netloc.removeprefix("www.")
        contacts.append(Contact("web", resource.url, resource.url_label or host))
    return ShownResource(translate(resource.name), translate(resource.text), tuple(contacts))


def country_name(code: str, locale: Locale, translate: Callable[[str], str]) -> str:
    """`code`'s name in `locale` (CLDR), else its English name through the catalog."""
    name: str | None = locale.territories.get(code)
    return name or translate(_ENGLISH.territories.get(code, code))


def help_view(
    data: HelpData,
    *,
    asked_country: str | None,
    locale: Locale,
    translate: Callable[[str], str],
) -> HelpView:
    """The help for a page: `asked_country` (from `?country=`) selects a country, else the
    file's default; an unknown one selects none and is reported. `translate` is gettext."""
    selected = data.default_country
    unknown = False
    if asked_country is not None:
        code = asked_country.strip().upper()
        unknown = code not in data.countries
        selected = None if unknown else code
    countries = tuple(
        ShownCountry(
            code=code,
            name=country_name(code, locale, translate),
            resources=tuple(_shown(r, translate) for r in resources),
            selected=code == selected,
        )
        for code, resources in data.countries.items()
    )
    return HelpView(
        countries=countries,
        international=tuple(_shown(r, translate) for r in data.international),
        asked=asked_country is not None,
        unknown_country=unknown,
    )
