"""Reading CAP 1.2 safely, and turning an AMBER alert from another system into an alert draft.

`parse_cap` refuses DTDs and entities (no XML bomb or external entity can run), other CAP
versions and malformed XML, each with a CapError saying what is wrong. `draft_from_cap`
maps a parsed AMBER alert onto the `AlertIn` shape (alerts/schemas.py); docs/cap.md.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pyexpat import ErrorString
from typing import Any, NotRequired, TypedDict

import phonenumbers
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from alerts.cap import CAP_NS, CapError, CapReference, haven_language
from alerts.cap_fields import (
    TEXT,
    areas_from_parameters,
    fields_from_parameters,
    has_haven_fields,
)

MAX_CAP_BYTES = 16 * 1024 * 1024
"""Larger documents are refused unread; the largest NWS alerts are under 2 MB."""

_OTHER_CAP = {
    "urn:oasis:names:tc:emergency:cap:1.1": "CAP 1.1",
    "urn:oasis:names:tc:emergency:cap:1.0": "CAP 1.0",
    "http://www.incident.com/cap/1.0": "CAP 1.0",
}
_AMBER_RE = re.compile(r"\b(child abduction|amber)\b", re.IGNORECASE)
_DIGITS_RE = re.compile(r"\d+")
_STATUSES = ("Actual", "Exercise", "Test")
CHILD_NAME_UNKNOWN = "Unknown (see description)"


@dataclass(frozen=True)
class ParsedArea:
    """One <area>: description, polygons and circles as CAP text, and (valueName, value) codes."""

    description: str
    polygons: list[str]
    circles: list[str]
    geocodes: list[tuple[str, str]]


@dataclass(frozen=True)
class ParsedInfo:
    """One <info>. Event codes and parameters map a valueName to all its values, in order."""

    language: str
    event: str
    categories: list[str]
    response_types: list[str]
    urgency: str | None
    severity: str | None
    certainty: str | None
    event_codes: dict[str, list[str]]
    expires: dt.datetime | None
    sender_name: str | None
    headline: str | None
    description: str | None
    instruction: str | None
    web: str | None
    contact: str | None
    parameters: dict[str, list[str]]
    areas: list[ParsedArea]


@dataclass(frozen=True)
class ParsedCap:
    """A CAP 1.2 <alert> as read: nothing is checked beyond what reading needs."""

    identifier: str
    sender: str
    sent: dt.datetime
    status: str
    msg_type: str
    scope: str
    codes: list[str]
    references: list[CapReference]
    note: str | None
    infos: list[ParsedInfo]


class CapDraft(TypedDict):
    """An `AlertIn`-shaped draft, plus `skipped`: what the CAP held that Haven could not use.

    Pop `skipped` before validating the rest with `AlertIn`. Suspects, vehicle and last
    sighting come only from Haven's `HAVEN-...` parameters (alerts/cap_fields.py).
    """

    status: str
    expires: str
    areas: list[dict[str, Any]]
    children: list[dict[str, Any]]
    suspects: NotRequired[list[dict[str, Any]]]
    vehicle: NotRequired[dict[str, Any]]
    last_seen: NotRequired[dict[str, Any]]
    contact_phone: str
    texts: dict[str, str]
    skipped: list[str]


def parse_cap(xml: bytes) -> ParsedCap:
    """Read a CAP 1.2 document; raise CapError if it is unsafe, malformed or not CAP 1.2."""
    if len(xml) > MAX_CAP_BYTES:
        raise CapError(f"the CAP document is {len(xml):,} bytes; the limit is {MAX_CAP_BYTES:,}")
    try:
        root = fromstring(xml, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise CapError(
            "the CAP document contains a DTD/entity declaration, which is not accepted"
        ) from None
    except ET.ParseError as exc:
        line, column = exc.position
        raise CapError(
            f"the CAP document is not well-formed XML: {ErrorString(exc.code)} "
            f"at line {line}, column {column + 1}"
        ) from None
    _check_root(root)
    return ParsedCap(
        identifier=_required(root, "identifier", "the <alert>"),
        sender=_required(root, "sender", "the <alert>"),
        sent=_time(_required(root, "sent", "the <alert>"), "<sent>"),
        status=_required(root, "status", "the <alert>"),
        msg_type=_required(root, "msgType", "the <alert>"),
        scope=_required(root, "scope", "the <alert>"),
        codes=_texts(root, "code"),
        references=_references(_text(root, "references")),
        note=_text(root, "note"),
        infos=[_info(el, n) for n, el in enumerate(root.findall(_q("info")), start=1)],
    )


def draft_from_cap(parsed: ParsedCap) -> CapDraft:
    """An alert draft from a parsed AMBER alert; CapError if it is not one or cannot be used.

    Areas are the union of every polygon, circle and SAME (or FIPS6) geocode of the AMBER
    <info> blocks; other geocodes and unknown languages are listed in `skipped`. Haven's own
    `HAVEN-...` parameters, where present, give the children, suspects, vehicle, last
    sighting, texts and areas exactly as the alert had them.
    """
    if not parsed.infos:
        raise CapError("this CAP alert has no <info>, so it describes no event")
    ambers = [info for info in parsed.infos if _is_amber(info)]
    if not ambers:
        raise CapError(
            f"this CAP alert is {_describe_event(parsed.infos[0])}, not a child abduction; "
            "Haven accepts only AMBER alerts"
        )
    if parsed.msg_type not in ("Alert", "Update"):
        raise CapError(f"a CAP {parsed.msg_type} message cannot become an alert draft")
    if parsed.status not in _STATUSES:
        raise CapError(
            f"the CAP status {parsed.status!r} cannot become an alert; "
            f"Haven accepts {', '.join(_STATUSES)}"
        )
    main = next((info for info in ambers if haven_language(info.language) == "en"), ambers[0])
    if main.expires is None:
        raise CapError("this CAP alert has no <expires>; Haven needs to know when it ends")
    skipped: list[str] = []
    haven = has_haven_fields(main.parameters)
    fields = fields_from_parameters(main.parameters, skipped) if haven else {}
    areas = areas_from_parameters(main.parameters, main.areas) if haven else None
    if not areas:  # not Haven's, or some area has no HAVEN-area-N-kind: the union, as for all
        areas = _areas(ambers, skipped)
    if not areas:
        raise CapError(
            "this CAP alert has no area Haven can use (a polygon, a circle or a SAME code)"
        )
    draft: CapDraft = {
        "status": parsed.status,
        "expires": main.expires.isoformat(),
        "areas": areas,
        "children": fields.pop("children", None) or [_described_child(main)],
        "contact_phone": _contact_phone(main, ambers),
        "texts": _texts_by_language(ambers, skipped, haven=haven),
        "skipped": skipped,
    }
    draft.update(fields)  # type: ignore[typeddict-item]
    return draft


def _described_child(main: ParsedInfo) -> dict[str, Any]:
    """The one child CAP without Haven's parameters describes: `ChildName`, and the text."""
    name = next(iter(_parameter(main, "ChildName")), "") or CHILD_NAME_UNKNOWN
    child = {"name": _clip(name, 200)}
    about = main.description or main.headline
    if about:
        child["description"] = _clip(about, 1000)
    return child


def _check_root(root: ET.Element) -> None:
    namespace, _, name = root.tag[1:].rpartition("}") if root.tag[:1] == "{" else ("", "", root.tag)
    if namespace == CAP_NS and name == "alert":
        return
    if name == "alert" and namespace in _OTHER_CAP:
        raise CapError(
            f"this is {_OTHER_CAP[namespace]} ({namespace}); Haven accepts only CAP 1.2 ({CAP_NS})"
        )
    if name == "alert":
        where = f"namespace {namespace}" if namespace else "no namespace"
        raise CapError(f"the <alert> is in {where}; CAP 1.2 alerts are in {CAP_NS}")
    raise CapError(f"the document is a <{name}>, not a CAP 1.2 <alert>")


def _info(element: ET.Element, number: int) -> ParsedInfo:
    where = f"<info> {number}"
    return ParsedInfo(
        language=_text(element, "language") or "en-US",  # CAP's default
        event=_required(element, "event", where),
        categories=_texts(element, "category"),
        response_types=_texts(element, "responseType"),
        urgency=_text(element, "urgency"),
        severity=_text(element, "severity"),
        certainty=_text(element, "certainty"),
        event_codes=_pairs_dict(element, "eventCode"),
        expires=_optional_time(element, "expires", where),
        sender_name=_text(element, "senderName"),
        headline=_text(element, "headline"),
        description=_text(element, "description"),
        instruction=_text(element, "instruction"),
        web=_text(element, "web"),
        contact=_text(element, "contact"),
        parameters=_pairs_dict(element, "parameter"),
        areas=[_area(area) for area in element.findall(_q("area"))],
    )


def _area(element: ET.Element) -> ParsedArea:
    return ParsedArea(
        description=_text(element, "areaDesc") or "",
        polygons=[" ".join(text.split()) for text in _texts(element, "polygon")],
        circles=[" ".join(text.split()) for text in _texts(element, "circle")],
        geocodes=_pairs(element, "geocode"),
    )


def _references(text: str | None) -> list[CapReference]:
    references = []
    for entry in (text or "").split():
        parts = entry.split(",")
        if len(parts) != 3 or not all(parts):
            raise CapError(f"the <references> entry {entry!r} is not 'sender,identifier,sent'")
        sender, identifier, sent = parts
        try:
            references.append(CapReference(sender, identifier, _time(sent, "<references>")))
        except CapError:
            raise
        except ValueError as exc:
            raise CapError(f"the <references> entry {entry!r} is not usable: {exc}") from None
    return references


def _time(text: str, where: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise CapError(f"the {where} time {text!r} is not a date and time") from None
    if moment.tzinfo is None:
        raise CapError(f"the {where} time {text!r} has no time zone offset")
    return moment


def _optional_time(element: ET.Element, name: str, where: str) -> dt.datetime | None:
    text = _text(element, name)
    return None if text is None else _time(text, f"{where} <{name}>")


def _text(element: ET.Element, name: str) -> str | None:
    child = element.find(_q(name))
    text = (child.text or "").strip() if child is not None else ""
    return text or None


def _required(element: ET.Element, name: str, where: str) -> str:
    text = _text(element, name)
    if text is None:
        raise CapError(f"{where} has no <{name}>, which CAP 1.2 requires")
    return text


def _texts(element: ET.Element, name: str) -> list[str]:
    return [text for child in element.findall(_q(name)) if (text := (child.text or "").strip())]


def _pairs(element: ET.Element, name: str) -> list[tuple[str, str]]:
    return [
        (_text(child, "valueName") or "", _text(child, "value") or "")
        for child in element.findall(_q(name))
    ]


def _pairs_dict(element: ET.Element, name: str) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for key, value in _pairs(element, name):
        values.setdefault(key, []).append(value)
    return values


def _q(name: str) -> str:
    return f"{{{CAP_NS}}}{name}"


def _is_amber(info: ParsedInfo) -> bool:
    if any(code.strip().upper() == "CAE" for code in _event_codes(info, "SAME")):
        return True
    return bool(_AMBER_RE.search(info.event))


def _event_codes(info: ParsedInfo, name: str) -> list[str]:
    return [v for key, values in info.event_codes.items() if key.upper() == name for v in values]


def _parameter(info: ParsedInfo, name: str) -> list[str]:
    wanted = name.lower()
    return [v.strip() for key, vs in info.parameters.items() if key.lower() == wanted for v in vs]


def _describe_event(info: ParsedInfo) -> str:
    codes = _event_codes(info, "SAME") or [v for vs in info.event_codes.values() for v in vs]
    article = "an" if info.event[:1].lower() in "aeiou" else "a"
    return f"{article} {info.event}" + (f" ({codes[0]})" if codes else "")


def _areas(infos: list[ParsedInfo], skipped: list[str]) -> list[dict[str, str]]:
    areas: list[dict[str, str]] = []
    seen: set[tuple[str, str]] = set()

    def add(kind: str, value: str, description: str) -> None:
        if (kind, value) not in seen:
            seen.add((kind, value))
            areas.append({kind: value} | ({"description": description} if description else {}))

    for info in infos:
        for area in info.areas:
            description = _clip(area.description, 300)
            for polygon in area.polygons:
                add("polygon", polygon, description)
            for circle in area.circles:
                add("circle", circle, description)
            for value_name, value in area.geocodes:
                code = _same_code(value_name, value)
                if code is not None:
                    add("same", code, description)
                elif (value_name, value) not in seen:
                    seen.add((value_name, value))
                    skipped.append(
                        f"geocode {value_name} {value!r} of area {area.description!r}: "
                        "Haven uses SAME (and FIPS6) codes only"
                    )
    return areas


def _same_code(value_name: str, value: str) -> str | None:
    """A SAME code (PSSCCC) from a SAME geocode, or a FIPS6 one (SSCCC or 0SSCCC); else None."""
    name, digits = value_name.strip().upper(), value.strip()
    if not _DIGITS_RE.fullmatch(digits):
        return None
    if name == "SAME" and len(digits) == 6:
        return digits
    if name == "FIPS6" and len(digits) == 5:
        return "0" + digits
    if name == "FIPS6" and len(digits) == 6 and digits[0] == "0":
        return digits
    return None


def _contact_phone(main: ParsedInfo, infos: list[ParsedInfo]) -> str:
    contact = main.contact or next((info.contact for info in infos if info.contact), None)
    if contact is None:
        raise CapError("this CAP alert has no <contact>; Haven needs a phone number for the public")
    for match in phonenumbers.PhoneNumberMatcher(contact, "US"):
        return phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
    raise CapError(
        f"the CAP <contact> {contact!r} holds no valid phone number; "
        "Haven needs one for the public to call"
    )


def _texts_by_language(
    infos: list[ParsedInfo], skipped: list[str], *, haven: bool
) -> dict[str, str]:
    """Each language's text: Haven's own `HAVEN-text` (none: the instruction was Haven's
    default) or, from other senders, the instruction or else the description."""
    texts: dict[str, str] = {}
    for info in infos:
        language = haven_language(info.language)
        if haven:
            text = next(iter(info.parameters.get(TEXT, [])), None)
        else:
            text = info.instruction or info.description
        if language is None:
            skipped.append(f"the {info.language} <info>: Haven has no such language")
        elif text and language not in texts:
            texts[language] = _clip(text, 1000)
    return texts


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
