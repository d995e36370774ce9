"""Edge helpers shared by every blueprint: parse a request into a typed model, safely.

Every request is checked here before any route sees it: no NUL character anywhere in its
path, query, form or JSON body (PostgreSQL cannot store one, and it has no place in an SMS),
no JSON nested deeper than `MAX_JSON_DEPTH`, and ids in URLs within the database's range.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, NoReturn, TypeVar

from flask import Flask, request
from pydantic import BaseModel, ConfigDict
from werkzeug.routing import IntegerConverter, Map

from haven.errors import HavenError

M = TypeVar("M", bound=BaseModel)

MAX_DB_ID = 2**31 - 1  # the INTEGER primary keys' range on PostgreSQL
# An alert's GeoJSON MultiPolygon Feature is 9 levels deep; nothing Haven reads needs more.
MAX_JSON_DEPTH = 32
NUL = "\x00"
# A JSON string literal (escapes included), matched without backtracking.
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


class Strict(BaseModel):
    """Base of every request shape: unknown fields are refused, not ignored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Out(BaseModel):
    """Base of every response shape."""

    model_config = ConfigDict(from_attributes=True)


class DbIdConverter(IntegerConverter):
    """`<dbid:name>`: a positive integer id a database row can have; any other is a 404."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        super().__init__(map, min=1, max=MAX_DB_ID)


def init_app(app: Flask) -> None:
    """Register the `dbid` converter and the NUL check; call before any blueprint."""
    app.url_map.converters["dbid"] = DbIdConverter
    app.before_request(refuse_nul_in_request)


def refuse_nul_in_request() -> None:
    """400 naming the part of the URL, query or form that holds a NUL character."""
    for name, value in (request.view_args or {}).items():
        if isinstance(value, str) and NUL in value:
            _nul(f"the URL ({name})")
    for name, value in request.args.items(multi=True):
        if NUL in name or NUL in value:
            _nul(f"query parameter {name!r}")
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        for name, value in request.form.items(multi=True):
            if NUL in name or NUL in value:
                _nul(f"form field {name!r}")


def parse_json(model: type[M], *, context: dict[str, Any] | None = None) -> M:
    """The request body, parsed as JSON and validated against `model` (with `context`).

    400 for a body that is not JSON, is nested deeper than `MAX_JSON_DEPTH`, holds a NaN or
    Infinity, or has a NUL character in any key or string (naming where).
    """
    if not request.is_json:
        raise HavenError(
            "Send a JSON body with 'Content-Type: application/json'.",
            code="unsupported_media_type",
        )
    return model.model_validate(load_json(request.get_data(cache=True)), context=context)


def load_json(raw: bytes) -> Any:
    """`raw` parsed as JSON, with the checks `parse_json` states."""
    check_json_depth(raw)
    try:
        data: Any = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise HavenError("The request body is not valid JSON.", code="malformed_json") from exc
    refuse_nul(data)
    return data


def check_json_depth(raw: bytes) -> None:
    """400 if the JSON text nests arrays and objects deeper than `MAX_JSON_DEPTH`.

    Counted over the bytes, outside string literals, before the (recursive) parser runs.
    """
    depth = 0
    for byte in _JSON_STRING.sub(b"", raw).translate(None, _NOT_BRACKETS):
        depth += 1 if byte in b"[{" else -1
        if depth > MAX_JSON_DEPTH:
            raise HavenError(
                f"The JSON body is nested more than {MAX_JSON_DEPTH} levels deep.",
                code="too_deeply_nested",
            )


def refuse_nul(data: Any) -> None:
    """400 naming the first key or string in parsed JSON that holds a NUL character."""
    pending: list[tuple[str, Any]] = [("body", data)]
    while pending:
        where, value = pending.pop()
        if isinstance(value, str):
            if NUL in value:
                _nul(where)
        elif isinstance(value, Mapping):
            for key, item in value.items():
                path = str(key) if where == "body" else f"{where}.{key}"
                if NUL in str(key):
                    _nul(f"{path} (a key)")
                pending.append((path, item))
        elif isinstance(value, list):
            prefix = "" if where == "body" else f"{where}."
            pending.extend((f"{prefix}{number}", item) for number, item in enumerate(value))


def parse_query(model: type[M]) -> M:
    """The query string, validated against `model`; repeated or unknown parameters are refused.

    (A NUL character in it was refused before routing, by `refuse_nul_in_request`.)"""
    args = request.args
    repeated = [key for key in args if len(args.getlist(key)) > 1]
    if repeated:
        raise HavenError(f"Query parameter '{repeated[0]}' is given more than once.")
    return model.model_validate(args.to_dict(flat=True))


def _nul(where: str) -> NoReturn:
    raise HavenError(
        f"{where}: text must not contain the NUL character (U+0000).",
        code="nul_character",
    )


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number")
