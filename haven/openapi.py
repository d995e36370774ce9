"""The OpenAPI 3.1 document, assembled from the routes' own declarations.

Each API view carries an `Operation` (set by `@document`); `build_spec` walks the app's URL map,
so a route without a declaration is visible to the guard test and a declaration cannot outlive
its route.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from flask import Flask
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

F = TypeVar("F", bound=Callable[..., Any])

API_PREFIXES = ("/api/", "/stopncii/", "/webhooks/")

SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "platform": {"type": "http", "scheme": "bearer", "description": "A platform's API key."},
    "officer": {"type": "http", "scheme": "bearer", "description": "An officer's API key."},
    "stopnciiFunctionKey": {"type": "apiKey", "in": "header", "name": "x-functions-key"},
    "stopnciiSubscriptionKey": {
        "type": "apiKey",
        "in": "header",
        "name": "Ocp-Apim-Subscription-Key",
    },
    "casePin": {"type": "apiKey", "in": "header", "name": "X-Case-Pin"},
    "twilioSignature": {"type": "apiKey", "in": "header", "name": "X-Twilio-Signature"},
    # Vonage signs the form itself: `sig` (with `timestamp`) among the fields it posts.
    "vonageSignature": {
        "type": "apiKey",
        "in": "query",
        "name": "sig",
        "description": "Vonage's `sig` field, sent among the form fields with `timestamp`.",
    },
}

# Which security schemes an operation's `auth` name stands for (all of them at once).
AUTH_SCHEMES: dict[str, list[str]] = {
    "platform": ["platform"],
    "officer": ["officer"],
    "stopncii": ["stopnciiFunctionKey", "stopnciiSubscriptionKey"],
    "case_pin": ["casePin"],
    "twilio": ["twilioSignature"],
    "vonage": ["vonageSignature"],
}


@dataclass(frozen=True)
class Operation:
    """What one route takes and answers, for the OpenAPI document."""

    summary: str
    auth: str | None
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    responses: dict[int, type[BaseModel] | str] = field(default_factory=dict)
    body_media_type: str = "application/json"
    tags: tuple[str, ...] = ()
    links: dict[str, dict[str, str]] = field(default_factory=dict)


def document(
    summary: str,
    *,
    auth: str | None,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    responses: dict[int, type[BaseModel] | str] | None = None,
    body_media_type: str = "application/json",
    tags: tuple[str, ...] = (),
    links: dict[str, dict[str, str]] | None = None,
) -> Callable[[F], F]:
    """Declare a route's contract. `auth=None` marks a deliberately public route.

    `links` maps the endpoint of a route that can act on this one's success answer (such as
    "alerts_api.read") to that route's parameters, as OpenAPI runtime expressions
    ("$response.body#/id"); they become OpenAPI links, which stateful fuzzing follows.
    """
    if auth is not None and auth not in AUTH_SCHEMES:
        raise ValueError(f"unknown auth {auth!r}")
    operation = Operation(
        summary, auth, body, query, dict(responses or {}), body_media_type, tags, dict(links or {})
    )

    def mark(view: F) -> F:
        view.__openapi__ = operation  # type: ignore[attr-defined]
        return view

    return mark


def operation_of(view: Callable[..., Any]) -> Operation | None:
    """The declared contract of a view function, if any."""
    return getattr(view, "__openapi__", None)


def is_api_path(rule: str) -> bool:
    """Whether a URL rule belongs to the documented API."""
    return rule.startswith(API_PREFIXES)


_PARAMETER = re.compile(r"<(?:([^:<>]+):)?([^<>]+)>")


def openapi_path(rule: str) -> tuple[str, dict[str, str]]:
    """A werkzeug rule as an OpenAPI path, and its parameters' JSON types."""
    params = {
        name: "integer" if converter in ("int", "dbid") else "string"
        for converter, name in _PARAMETER.findall(rule)
    }
    return _PARAMETER.sub(r"{\2}", rule), params


def operation_id(method: str, path: str) -> str:
    """The operationId of an OpenAPI path's method."""
    return f"{method.lower()}_{path}".replace("/", "_").replace("{", "").replace("}", "")


def _error_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "details": {},
                },
            }
        },
    }


def build_spec(app: Flask, *, title: str = "Haven API", version: str = "1") -> dict[str, Any]:
    """The OpenAPI 3.1 document for every documented route of the app."""
    models: set[type[BaseModel]] = set()
    entries: list[tuple[str, str, dict[str, str], Operation]] = []
    operation_ids: dict[str, list[str]] = {}
    for rule in app.url_map.iter_rules():
        operation = operation_of(app.view_functions[rule.endpoint])
        if operation is None:
            continue
        path, params = openapi_path(rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            entries.append((path, method.lower(), params, operation))
            operation_ids.setdefault(rule.endpoint, []).append(operation_id(method, path))
        models.update(m for m in (operation.body, operation.query) if m is not None)
        models.update(r for r in operation.responses.values() if not isinstance(r, str))

    ordered = sorted(models, key=lambda m: m.__name__)
    refs, defs = models_json_schema(
        [(m, "validation") for m in ordered], ref_template="#/components/schemas/{model}"
    )
    schemas: dict[str, Any] = dict(defs.get("$defs", {}))
    schemas["Error"] = _error_schema()

    paths: dict[str, dict[str, Any]] = {}
    for path, method, params, op in sorted(entries, key=lambda e: (e[0], e[1])):
        spec: dict[str, Any] = {
            "summary": op.summary,
            "operationId": operation_id(method, path),
            "tags": list(op.tags),
            "parameters": [
                {"name": p, "in": "path", "required": True, "schema": {"type": kind}}
                for p, kind in params.items()
            ],
            "responses": {},
        }
        if op.query is not None:
            query_schema = op.query.model_json_schema()
            required = set(query_schema.get("required", []))
            for name, prop in query_schema.get("properties", {}).items():
                spec["parameters"].append(
                    {"name": name, "in": "query", "required": name in required, "schema": prop}
                )
        if op.body is not None:
            spec["requestBody"] = {
                "required": True,
                "content": {op.body_media_type: {"schema": refs[(op.body, "validation")]}},
            }
        for status, response in sorted(op.responses.items()):
            if isinstance(response, str):
                spec["responses"][str(status)] = {"description": response}
            else:
                spec["responses"][str(status)] = {
                    "description": response.__doc__ or response.__name__,
                    "content": {"application/json": {"schema": refs[(response, "validation")]}},
                }
        if op.links:
            success = min(s for s in op.responses if 200 <= s < 300)
            spec["responses"][str(success)]["links"] = {
                target_id: {"operationId": target_id, "parameters": parameters}
                for endpoint, parameters in op.links.items()
                for target_id in operation_ids[endpoint]
            }
        spec["responses"]["4XX"] = {
            "description": "The request was refused; the error names the problem.",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        spec["security"] = [{scheme: [] for scheme in AUTH_SCHEMES[op.auth]}] if op.auth else []
        paths.setdefault(path, {})[method] = spec

    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": SECURITY_SCHEMES},
    }
