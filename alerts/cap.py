"""CAP 1.2 output for Haven's AMBER alerts, valid against OASIS CAP 1.2 and the IPAWS profile v1.0.

`render_cap` writes a `CapMessage` as UTF-8 XML. The vocabulary shared with reading
(`CapError`, `CapReference`, CAP times, language tags) lives here too; reading CAP and
turning it into an alert draft is in alerts/cap_read.py. docs/cap.md explains the choices.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Literal

from haven.languages import LANGUAGES

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
IPAWS_PROFILE_CODE = "IPAWSv1.0"
CMAM_TEXT_MAX = 90
CMAM_LONG_TEXT_MAX = 360

CapStatus = Literal["Actual", "Exercise", "Test"]
CapMsgType = Literal["Alert", "Update", "Cancel"]

# What every Haven alert is: CAP's values for a child abduction (SAME event code CAE).
CATEGORY = "Rescue"
EVENT = "Child Abduction"
URGENCY = "Immediate"
SEVERITY = "Severe"
CERTAINTY = "Likely"
SAME_EVENT_CODE = "CAE"
EAS_ORIGINATOR = "CIV"  # civil authorities: the EAS originator code for law enforcement

# English and Spanish carry the US region, as IPAWS and the NWS write them; the others are
# the bare ISO 639 code, which every receiver understands and no region would make truer.
LANGUAGE_TAGS: dict[str, str] = {code: code for code in LANGUAGES} | {
    "en": "en-US",
    "es": "es-US",
}
_LANGUAGE_ALIASES = {"fil": "tl"}  # Filipino is the standard form of Tagalog

_TOKEN_RE = re.compile(r"[^\s,<&]+")  # CAP identifiers and senders: no spaces, commas, < or &
_LANGUAGE_RE = re.compile(r"[a-zA-Z]{1,8}(-[a-zA-Z0-9]{1,8})*")  # xs:language
_SAME_RE = re.compile(r"\d{6}")
_MIME_RE = re.compile(r"[\w.+-]+/[\w.+-]+")
_URI_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s<>\"{}|\\^`]+")  # xs:anyURI, absolute
_SHA1_RE = re.compile(r"[0-9a-f]{40}")
# Characters XML 1.0 cannot carry: C0 controls other than tab and newline, lone surrogates.
_NOT_XML_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


class CapError(ValueError):
    """A CAP document that cannot be read or used; the message says what is wrong."""

    code = "invalid_cap"


def cap_language(code: str) -> str:
    """The CAP (RFC 3066) language tag for a Haven language code: "en" -> "en-US"."""
    try:
        return LANGUAGE_TAGS[code]
    except KeyError:
        raise ValueError(f"{code!r} is not a Haven language") from None


def haven_language(tag: str) -> str | None:
    """The Haven language code for a CAP language tag ("es-MX" -> "es"), or None if unknown."""
    primary = tag.strip().lower().replace("_", "-").split("-")[0]
    primary = _LANGUAGE_ALIASES.get(primary, primary)
    return primary if primary in LANGUAGE_TAGS else None


def xml_safe(text: str) -> str:
    """Text with the characters XML 1.0 cannot carry removed, and line ends as "\\n"."""
    return _NOT_XML_RE.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def format_cap_time(moment: dt.datetime) -> str:
    """A CAP 1.2 time: whole seconds and an explicit offset, UTC as "-00:00" ("Z" is not CAP)."""
    offset = moment.utcoffset()
    if offset is None:
        raise ValueError(f"the time {moment.isoformat()} has no time zone")
    if offset.seconds % 60:  # historical offsets with seconds have no CAP form
        moment = moment.astimezone(dt.UTC)
    text = moment.replace(microsecond=0).isoformat()
    return text[:-6] + "-00:00" if text.endswith("+00:00") else text


@dataclass(frozen=True)
class CapReference:
    """An earlier message this one updates or cancels: CAP's "sender,identifier,sent"."""

    sender: str
    identifier: str
    sent: dt.datetime

    def __post_init__(self) -> None:
        _check_token(self.sender, "the referenced sender")
        _check_token(self.identifier, "the referenced identifier")
        format_cap_time(self.sent)

    def cap_text(self) -> str:
        """This reference as one entry of CAP's <references>."""
        return f"{self.sender},{self.identifier},{format_cap_time(self.sent)}"


@dataclass(frozen=True)
class CapArea:
    """One <area>: its description and CAP polygons, circles and SAME codes (their union)."""

    description: str
    polygons: list[str] = field(default_factory=list)
    circles: list[str] = field(default_factory=list)
    geocodes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.description.strip():
            raise ValueError("an area needs a description (CAP <areaDesc>)")
        if not (self.polygons or self.circles or self.geocodes):
            raise ValueError(f"the area {self.description!r} has no polygon, circle or geocode")
        for code in self.geocodes:
            if not _SAME_RE.fullmatch(code):
                raise ValueError(f"the SAME code {code!r} is not 6 digits (PSSCCC)")


@dataclass(frozen=True)
class CapResource:
    """One <resource>: a file that goes with the alert, such as a child's photo, at `uri` (an
    absolute URL). `size` is in bytes; `digest` is the file's SHA-1 in hex, the hash CAP 1.2
    names for it."""

    description: str
    mime_type: str
    uri: str
    size: int | None = None
    digest: str | None = None

    def __post_init__(self) -> None:
        if not self.description.strip():
            raise ValueError("a resource needs a description (CAP <resourceDesc>)")
        if not _MIME_RE.fullmatch(self.mime_type):
            raise ValueError(f"{self.mime_type!r} is not a MIME type such as 'image/jpeg'")
        if not _URI_RE.fullmatch(self.uri):
            raise ValueError(f"the resource URI {self.uri!r} is not an absolute URL")
        if self.size is not None and self.size < 0:
            raise ValueError("a resource's size is a number of bytes, 0 or more")
        if self.digest is not None and not _SHA1_RE.fullmatch(self.digest):
            raise ValueError(f"the digest {self.digest!r} is not a SHA-1 in hex")


@dataclass(frozen=True)
class CapInfo:
    """One <info>, in one language. The event and its grading are fixed: a child abduction.

    `parameters` are further (valueName, value) pairs, written after EAS-ORG and the WEA texts;
    `resources` are files that go with it, such as the children's photos.
    """

    language: str
    expires: dt.datetime
    sender_name: str
    headline: str
    description: str
    instruction: str
    web: str
    contact: str
    cmam_text: str | None = None
    cmam_long_text: str | None = None
    parameters: list[tuple[str, str]] = field(default_factory=list)
    resources: list[CapResource] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not _LANGUAGE_RE.fullmatch(self.language):
            raise ValueError(f"{self.language!r} is not a language tag such as 'en-US'")
        format_cap_time(self.expires)
        for name, text, limit in (
            ("cmam_text", self.cmam_text, CMAM_TEXT_MAX),
            ("cmam_long_text", self.cmam_long_text, CMAM_LONG_TEXT_MAX),
        ):
            if text is not None and len(text) > limit:
                raise ValueError(
                    f"the {self.language} {name} has {len(text)} characters; WEA allows {limit}"
                )


@dataclass(frozen=True)
class CapMessage:
    """One CAP <alert>: the areas are repeated inside every <info>, as CAP requires."""

    identifier: str
    sender: str
    sent: dt.datetime
    status: CapStatus
    msg_type: CapMsgType
    infos: list[CapInfo]
    areas: list[CapArea]
    references: list[CapReference] = field(default_factory=list)
    note: str | None = None
    scope: Literal["Public"] = "Public"

    def __post_init__(self) -> None:
        _check_token(self.identifier, "the identifier")
        _check_token(self.sender, "the sender")
        format_cap_time(self.sent)
        if not self.infos:
            raise ValueError("a CAP message needs at least one <info>")
        if not self.areas:
            raise ValueError("a CAP message needs at least one area (the IPAWS profile)")
        languages = [info.language.lower() for info in self.infos]
        if len(set(languages)) != len(languages):
            raise ValueError("each <info> must be in a different language")
        if self.msg_type != "Alert" and not self.references:
            raise ValueError(f"msgType {self.msg_type} must reference the messages it replaces")


def render_cap(message: CapMessage) -> bytes:
    """The message as a CAP 1.2 document (UTF-8, with an XML declaration)."""
    root = ET.Element(_q("alert"))
    _add(root, "identifier", message.identifier)
    _add(root, "sender", message.sender)
    _add(root, "sent", format_cap_time(message.sent))
    _add(root, "status", message.status)
    _add(root, "msgType", message.msg_type)
    _add(root, "scope", message.scope)
    _add(root, "code", IPAWS_PROFILE_CODE)
    if message.note:
        _add(root, "note", message.note)
    if message.references:
        _add(root, "references", " ".join(ref.cap_text() for ref in message.references))
    response = "AllClear" if message.msg_type == "Cancel" else "Monitor"
    for info in message.infos:
        _add_info(root, info, response, message.areas)
    ET.indent(root, space="  ")
    document: bytes = ET.tostring(
        root, encoding="utf-8", xml_declaration=True, default_namespace=CAP_NS
    )
    return document


def ipaws_problems(message: CapMessage) -> list[str]:
    """What the IPAWS profile asks beyond its XSD that this message lacks (empty: nothing)."""
    problems = [
        f"the area {area.description!r} has no SAME geocode, which EAS needs"
        for area in message.areas
        if not area.geocodes
    ]
    if message.msg_type != "Cancel" and not any(info.cmam_text for info in message.infos):
        problems.append("no <info> has a CMAMtext, which WEA needs")
    return problems


def _add_info(root: ET.Element, info: CapInfo, response: str, areas: list[CapArea]) -> None:
    element = _add(root, "info")
    _add(element, "language", info.language)
    _add(element, "category", CATEGORY)
    _add(element, "event", EVENT)
    _add(element, "responseType", response)
    _add(element, "urgency", URGENCY)
    _add(element, "severity", SEVERITY)
    _add(element, "certainty", CERTAINTY)
    _add_pair(element, "eventCode", "SAME", SAME_EVENT_CODE)
    _add(element, "expires", format_cap_time(info.expires))
    _add(element, "senderName", info.sender_name)
    _add(element, "headline", info.headline)
    _add(element, "description", info.description)
    _add(element, "instruction", info.instruction)
    _add(element, "web", info.web)
    _add(element, "contact", info.contact)
    _add_pair(element, "parameter", "EAS-ORG", EAS_ORIGINATOR)
    if info.cmam_text:
        _add_pair(element, "parameter", "CMAMtext", info.cmam_text)
    if info.cmam_long_text:
        _add_pair(element, "parameter", "CMAMlongtext", info.cmam_long_text)
    for value_name, value in info.parameters:
        _add_pair(element, "parameter", value_name, value)
    for resource in info.resources:  # after the parameters, before the areas (CAP 1.2 order)
        resource_element = _add(element, "resource")
        _add(resource_element, "resourceDesc", resource.description)
        _add(resource_element, "mimeType", resource.mime_type)
        if resource.size is not None:
            _add(resource_element, "size", str(resource.size))
        _add(resource_element, "uri", resource.uri)
        if resource.digest is not None:
            _add(resource_element, "digest", resource.digest)
    for area in areas:
        area_element = _add(element, "area")
        _add(area_element, "areaDesc", area.description)
        for polygon in area.polygons:
            _add(area_element, "polygon", polygon)
        for circle in area.circles:
            _add(area_element, "circle", circle)
        for code in area.geocodes:
            _add_pair(area_element, "geocode", "SAME", code)


def _add(parent: ET.Element, name: str, text: str | None = None) -> ET.Element:
    element = ET.SubElement(parent, _q(name))
    if text is not None:
        element.text = xml_safe(text)
    return element


def _add_pair(parent: ET.Element, name: str, value_name: str, value: str) -> None:
    element = _add(parent, name)
    _add(element, "valueName", value_name)
    _add(element, "value", value)


def _q(name: str) -> str:
    return f"{{{CAP_NS}}}{name}"


def _check_token(value: str, what: str) -> None:
    if not _TOKEN_RE.fullmatch(value):
        raise ValueError(f"{what} {value!r} must be non-empty, without spaces, commas, < or &")
