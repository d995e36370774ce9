"""The families' JSON API: submit a case, check it, withdraw it. Anonymous by construction."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from flask import Blueprint, Response, jsonify, request
from flask_babel import force_locale

from haven.db import get_session
from haven.i18n import ALL, current_language
from haven.metrics import counts_submissions
from haven.openapi import document
from haven.privacy import anonymous
from haven.ratelimit import Backoff, WaitToGuess, client_address, get_throttle
from haven.settings import get_settings
from haven.web import parse_json, parse_query
from takedown import display, service
from takedown.schemas import CaseCreated, CaseIn, CaseQuery, CaseStatusOut, as_dict

bp = anonymous(Blueprint("takedown_api", __name__, url_prefix="/api/v1/takedown"))


def _pin_policy() -> service.PinPolicy:
    settings = get_settings()
    first, most = settings.pin_first_wait_seconds, settings.pin_max_wait_seconds
    return service.PinPolicy(
        throttle=get_throttle(),
        client=client_address(),
        per_case=Backoff(free=settings.pin_free_tries, first_wait=first, max_wait=most),
        per_client=Backoff(free=settings.pin_client_free_tries, first_wait=first, max_wait=most),
    )


@contextmanager
def _in_language(lang: str | None) -> Iterator[str]:
    """Answer in `lang` (else Accept-Language's best match): the case's dates and counts, and
    a wait after wrong PINs in words (error details `wait`), as the page shows them."""
    code = lang or current_language().code
    with force_locale(ALL[code].catalog):
        try:
            yield code
        except WaitToGuess as wait:
            wait.details = {
                "retry_after": wait.retry_after,
                "wait": display.wait_in_words(wait.retry_after),
            }
            raise


def _open(open_case: Callable[..., CaseStatusOut], case_number: str) -> Response:
    """Count the lookup, open the case with the PIN, and answer with its status and text."""
    get_throttle().limit_client(get_settings().case_lookup_rate, "case-lookup")
    query = parse_query(CaseQuery)
    with _in_language(query.lang) as lang:
        status = open_case(
            session=get_session(), number=case_number, pin=_pin(), policy=_pin_policy()
        )
        text = display.case_status_text(status, lang)
    return jsonify(as_dict(status.model_copy(update={"text": text})))


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
    query=CaseQuery,
    responses={200: CaseStatusOut},
    tags=("takedown",),
)
def case_status(case_number: str) -> Response:
    """What has happened to each hash of the case."""
    return _open(service.get_case_status, case_number)


@bp.post("/cases/<case_number>/withdraw")
@document(
    "Withdraw a case, with the PIN in X-Case-Pin.",
    auth="case_pin",
    query=CaseQuery,
    responses={200: CaseStatusOut},
    tags=("takedown",),
)
def withdraw_case(case_number: str) -> Response:
    """Withdraw the case; its hashes become tombstones unless another case holds them."""
    return _open(service.withdraw_case, case_number)
