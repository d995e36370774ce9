"""The families' JSON API: submit a case, check it, withdraw it. Anonymous by construction."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from haven.db import get_session
from haven.metrics import counts_submissions
from haven.openapi import document
from haven.privacy import anonymous
from haven.ratelimit import get_throttle
from haven.settings import get_settings
from haven.web import parse_json
from takedown import service
from takedown.schemas import CaseCreated, CaseIn, CaseStatusOut, as_dict

bp = anonymous(Blueprint("takedown_api", __name__, url_prefix="/api/v1/takedown"))


def _pin_policy() -> service.PinPolicy:
    settings = get_settings()
    return service.PinPolicy(
        get_throttle(), settings.pin_max_failures, settings.pin_lockout_minutes
    )


def _pin() -> str:
    return request.headers.get("X-Case-Pin", "")


@bp.post("/cases")
@document(
    "Submit a removal case: hashes only, never images.",
    auth=None,
    body=CaseIn,
    responses={201: CaseCreated},
    tags=("takedown",),
    links={
        "takedown_api.case_status": {"case_number": "$response.body#/case_number"},
        "takedown_api.withdraw_case": {"case_number": "$response.body#/case_number"},
    },
)
@counts_submissions
def create_case() -> tuple[Response, int]:
    """Store a case and return its number and PIN (shown once)."""
    settings = get_settings()
    get_throttle().limit_client(settings.case_submit_rate, "case-submit")
    case_in = parse_json(
        CaseIn,
        context={
            "max_case_hashes": settings.max_case_hashes,
            "min_pdq_quality": settings.min_pdq_quality,
            "vpdq_max_frames": settings.vpdq_max_frames,
            "case_max_vpdq_bytes": settings.case_max_vpdq_bytes,
        },
    )
    created = service.submit_case(session=get_session(), case_in=case_in)
    return jsonify(as_dict(created)), 201


@bp.get("/cases/<case_number>")
@document(
    "A case's status, with the PIN in X-Case-Pin.",
    auth="case_pin",
    responses={200: CaseStatusOut},
    tags=("takedown",),
)
def case_status(case_number: str) -> Response:
    """What has happened to each hash of the case."""
    get_throttle().limit_client(get_settings().case_lookup_rate, "case-lookup")
    status = service.get_case_status(
        session=get_session(), number=case_number, pin=_pin(), policy=_pin_policy()
    )
    return jsonify(as_dict(status))


@bp.post("/cases/<case_number>/withdraw")
@document(
    "Withdraw a case, with the PIN in X-Case-Pin.",
    auth="case_pin",
    responses={200: CaseStatusOut},
    tags=("takedown",),
)
def withdraw_case(case_number: str) -> Response:
    """Withdraw the case; its hashes become tombstones unless another case holds them."""
    get_throttle().limit_client(get_settings().case_lookup_rate, "case-lookup")
    status = service.withdraw_case(
        session=get_session(), number=case_number, pin=_pin(), policy=_pin_policy()
    )
    return jsonify(as_dict(status))
