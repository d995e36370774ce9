"""Edge helpers shared by every JSON blueprint: parse a request into a typed model."""

from __future__ import annotations

from typing import Any, TypeVar

from flask import request
from pydantic import BaseModel, ConfigDict

from haven.errors import HavenError

M = TypeVar("M", bound=BaseModel)


class Strict(BaseModel):
    """Base of every request shape: unknown fields are refused, not ignored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Out(BaseModel):
    """Base of every response shape."""

    model_config = ConfigDict(from_attributes=True)


def parse_json(model: type[M], *, context: dict[str, Any] | None = None) -> M:
    """The request body, parsed as JSON and validated against `model` (with `context`)."""
    if not request.is_json:
        raise HavenError(
            "Send a JSON body with 'Content-Type: application/json'.",
            code="unsupported_media_type",
        )
    data: Any = request.get_json(silent=True)
    if data is None:
        raise HavenError("The request body is not valid JSON.", code="malformed_json")
    return model.model_validate(data, context=context)


def parse_query(model: type[M]) -> M:
    """The query string, validated against `model`; repeated or unknown parameters are refused."""
    args = request.args
    repeated = [key for key in args if len(args.getlist(key)) > 1]
    if repeated:
        raise HavenError(f"Query parameter '{repeated[0]}' is given more than once.")
    return model.model_validate(args.to_dict(flat=True))
