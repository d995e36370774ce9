"""Fuzzing Haven's API from its own OpenAPI document, with the right credentials per route.

Shared by the regular suite's small fuzz (tests/haven/test_fuzz.py) and `make fuzz`
(tests/fuzz/). A `Fuzzer` sends every generated request with the credentials its operation
declares (an officer's key, a platform's keys, a real case's PIN, a Twilio signature; a
sandbox platform's keys on sandbox routes) and checks each answer: never a 5xx, every error
in the one JSON error shape, and the body and status as the document declares them
(Schemathesis' response-schema and status-code conformance checks).

Two phases: each operation on its own (`fuzz_operations`: positive and negative cases), and
stateful sequences that follow the document's links (`fuzz_stateful`: create an alert, then
read, submit, update, cancel... it; submit a case, then look it up and withdraw it).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

import hypothesis
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Flaky
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)
from twilio.request_validator import RequestValidator
from vonage import Auth

from haven.db import get_session
from haven.openapi import build_spec
from takedown.service import PlatformCredentials, add_platform
from tests.factories import bearer, draft_body, submit_case, video_hash, vpdq_hash

TWILIO_AUTH_TOKEN = "fuzz-twilio-token"
VONAGE_SIGNATURE_SECRET = "fuzz-vonage-signature-secret"
# Thousands of requests from one client and one platform: no rate limit may hide a handler.
GENEROUS = "1000000/minute"
SETTINGS_OVERRIDES: dict[str, object] = {
    "twilio_auth_token": TWILIO_AUTH_TOKEN,
    "vonage_signature_secret": VONAGE_SIGNATURE_SECRET,
    "feed_rate_per_platform": GENEROUS,
    "subscription_channel_per_client_rate": GENEROUS,
    "subscription_channel_per_destination_rate": GENEROUS,
    "subscription_sms_per_sender_rate": GENEROUS,
}
# Answers that do not show the handler ran: refused credentials, or no such route (a
# generated id the URL converter rejects is a 404 before authentication).
NOT_REACHED = {401, 403, 404, 405}
CHECKS = [response_schema_conformance, status_code_conformance]
# How many times a stateful run may start over (see `fuzz_stateful`).
MAX_STATEFUL_SUITES = 50
# Generated alert drafts and cases almost never pass the domain's rules (an area in the
# officer's jurisdiction, an expiry within 24 hours, hashes of exact hex lengths), so a
# stateful run would seldom create anything to follow links from: its positive creations
# send these valid bodies instead. Its negative ones, and every link it follows, stay generated.
STATEFUL_SEEDS: dict[tuple[str, str], Callable[[], Any]] = {
    ("POST", "/api/v1/alerts"): draft_body,
    ("POST", "/api/v1/takedown/cases"): lambda: {"hashes": [video_hash(), vpdq_hash()]},
}


def twilio_signature(app: Flask, case: Any) -> str:
    """X-Twilio-Signature as Twilio would compute it for this case's URL and form fields.

    Only string fields are signed: Twilio posts flat string forms, and other generated
    values (None, lists, objects) are encoded in ways the signature cannot predict.
    """
    url = app.extensions["haven.settings"].public_url.rstrip("/") + case.formatted_path
    form = case.body if isinstance(case.body, dict) else {}
    params = {k: v for k, v in form.items() if isinstance(v, str)}
    return str(RequestValidator(TWILIO_AUTH_TOKEN).compute_signature(url, params))


def vonage_signed(body: Any) -> Any:
    """A generated form with Vonage's `timestamp` and `sig` added, as Vonage signs its
    webhooks (string fields only, as with Twilio's); anything else is left unsigned."""
    if body is not None and not isinstance(body, dict):
        return body
    form = {k: v for k, v in (body or {}).items() if isinstance(v, str)}
    form["timestamp"] = "1700000000"
    auth = Auth(api_key="-", signature_secret=VONAGE_SIGNATURE_SECRET, signature_method="sha256")
    form["sig"] = auth.sign_params(dict(form))
    return form


def fuzz_settings(max_examples: int, **more: Any) -> settings:
    """Hypothesis settings for a reproducible fuzz run of `max_examples` per strategy."""
    values: dict[str, Any] = {
        "max_examples": max_examples,
        "deadline": None,
        "database": None,
        "derandomize": True,
        "suppress_health_check": list(HealthCheck),
    }
    return settings(**{**values, **more})


class Fuzzer:
    """Sends generated requests to an app with their credentials; counts and checks answers.

    Needs the app's settings to include `SETTINGS_OVERRIDES`. Creates, on the app's
    database: a case (whose number and PIN positive cases use), an alert draft by the
    drafter, and a sandbox platform.
    """

    def __init__(
        self, app: Flask, *, platform: PlatformCredentials, officers: dict[str, str]
    ) -> None:
        self.app = app
        self.schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
        client = app.test_client()
        # A video MD5 and a vPDQ: feed pages, exports and the case's status then carry both
        # shapes of hash (a vpdq one has `features`) for the document to be checked against.
        created = submit_case(client, [video_hash(), vpdq_hash()])
        alert = client.post(
            "/api/v1/alerts", json=draft_body(), headers=bearer(officers["drafter"])
        )
        assert alert.status_code == 201, alert.json
        self.real_ids: dict[str, Any] = {
            "alert_id": alert.json["id"],  # type: ignore[index]
            "case_number": created["case_number"],
        }
        self.default_pin: str = created["pin"]
        # PINs of cases the fuzzer itself created (stateful runs look these cases up).
        self.pins: dict[str, str] = {created["case_number"]: created["pin"]}
        self.scheme_headers: dict[str, dict[str, str]] = {
            "officer": bearer(officers["approver"]),
            "platform": bearer(platform.api_key),
            "stopnciiFunctionKey": {"x-functions-key": platform.stopncii_fetch_function_key},
            "stopnciiSubscriptionKey": {
                "Ocp-Apim-Subscription-Key": platform.stopncii_subscription_key
            },
        }
        # The sandbox routes take the same schemes, but a sandbox platform's keys (a real
        # key there is a 403).
        with app.app_context():
            sandbox = add_platform(session=get_session(), name="Fuzz Sandbox", sandbox=True)
        self.sandbox_headers = {
            **self.scheme_headers,
            "platform": bearer(sandbox.api_key),
            "stopnciiFunctionKey": {"x-functions-key": sandbox.stopncii_fetch_function_key},
            "stopnciiSubscriptionKey": {
                "Ocp-Apim-Subscription-Key": sandbox.stopncii_subscription_key
            },
        }
        self.security = {
            (method.upper(), path): [s for requirement in op["security"] for s in requirement]
            for path, ops in build_spec(app)["paths"].items()
            for method, op in ops.items()
        }
        self.operations = [result.ok() for result in self.schema.get_all_operations()]  # type: ignore[union-attr]
        # phase -> "METHOD /path" -> statuses seen
        self.statuses: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        self.failures: set[str] = set()

    def send(self, case: Any, *, phase: str, aim: bool) -> Any:
        """Send `case` with its operation's credentials; record and check the answer.

        `aim` points a case's path parameters at the real alert and case first, so their
        handlers run past the lookup (stateful cases keep the ids their links gave them).
        """
        if aim:
            for name in set(case.path_parameters or {}) & set(self.real_ids):
                case.path_parameters[name] = self.real_ids[name]
        headers: dict[str, str] = {}
        for scheme in self.security[(case.method.upper(), case.path)]:
            if scheme == "twilioSignature":
                if aim and isinstance(case.body, dict):
                    case.body = {k: v for k, v in case.body.items() if isinstance(v, str)}
                headers["X-Twilio-Signature"] = twilio_signature(self.app, case)
            elif scheme == "vonageSignature":
                case.body = vonage_signed(case.body)
            elif scheme == "casePin":
                number = str((case.path_parameters or {}).get("case_number"))
                headers["X-Case-Pin"] = self.pins.get(number, self.default_pin)
            else:
                chosen = self.sandbox_headers if "/sandbox/" in case.path else self.scheme_headers
                headers.update(chosen[scheme])
        # Our credentials replace any the generator made up (bad credentials are the guard
        # test's business, tests/haven/test_app.py); header names are case-insensitive.
        ours = {name.lower() for name in headers}
        generated = {k: v for k, v in (case.headers or {}).items() if k.lower() not in ours}
        response = case.call(headers={**generated, **headers})
        self.statuses[phase][f"{case.method.upper()} {case.path}"].append(response.status_code)
        self._check(case, response)
        return response

    def _check(self, case: Any, response: Any) -> None:
        where = f"{case.method.upper()} {case.path}"
        if response.status_code >= 500:
            self.failures.add(f"{where}: {response.status_code} for {case.formatted_path}")
        elif response.status_code >= 400:
            body = _json_or_none(response)
            if not (isinstance(body, dict) and {"code", "message"} <= set(body.get("error", {}))):
                self.failures.add(f"{where}: {response.status_code} without the JSON error")
        try:
            case.validate_response(response, checks=CHECKS)
        except (Failure, FailureGroup) as exc:
            found = exc.exceptions if isinstance(exc, FailureGroup) else (exc,)
            for failure in found:
                self.failures.add(f"{where}: {failure.title}: {failure.message[:400]}")
        created = _json_or_none(response) if response.status_code == 201 else None
        if isinstance(created, dict) and {"case_number", "pin"} <= set(created):
            self.pins[str(created["case_number"])] = str(created["pin"])

    def fuzz_operations(self, examples: int) -> None:
        """Up to `examples` positive and as many negative cases for each operation."""
        for operation in self.operations:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                test = given(operation.as_strategy(generation_mode=mode))(self._sender(mode))
                fuzz_settings(examples)(test)()

    def _sender(self, mode: GenerationMode) -> Callable[[Any], None]:
        def send(case: Any) -> None:
            self.send(case, phase=mode.value, aim=mode is GenerationMode.POSITIVE)

        return send

    def fuzz_stateful(self, scenarios: int, steps: int) -> None:
        """Up to `scenarios` sequences of up to `steps` calls, following the document's links.

        The app's state moves on between Hypothesis' replays of a sequence (a withdrawn case
        answers 404 where it answered 200), which Hypothesis reports as Flaky; as Schemathesis'
        own runner does, the run then starts over with the next seed, for the scenarios left.
        """
        fuzzer = self
        finished = 0

        class Machine(self.schema.as_state_machine()):  # type: ignore[misc]
            def call(self, case: Any, **kwargs: Any) -> Any:
                seed = STATEFUL_SEEDS.get((case.method.upper(), case.path))
                if seed and case.meta and case.meta.generation.mode is GenerationMode.POSITIVE:
                    case.body = seed()
                return fuzzer.send(case, phase="stateful", aim=False)

            def validate_response(self, response: Any, case: Any, *args: Any, **kw: Any) -> None:
                pass  # `send` checked it, and kept going: every failure is reported at the end

            def teardown(self) -> None:
                nonlocal finished
                finished += 1
                super().teardown()

        for suite in range(MAX_STATEFUL_SUITES):
            if finished >= scenarios:
                break
            run_settings = fuzz_settings(
                scenarios - finished,
                stateful_step_count=steps,
                phases=[Phase.generate],
                derandomize=False,
            )
            try:
                hypothesis.seed(suite)(Machine).run(settings=run_settings)
            except Flaky:
                continue

    def report(self) -> str:
        """Cases per phase and operation, with the statuses seen."""
        dialect = self.app.extensions["haven.db"].engine.dialect.name
        lines = [f"fuzz cases per operation ({dialect}):"]
        for phase, per_operation in self.statuses.items():
            total = sum(map(len, per_operation.values()))
            lines.append(f" {phase}: {total} cases")
            for name, seen in sorted(per_operation.items()):
                codes = ", ".join(f"{code}×{seen.count(code)}" for code in sorted(set(seen)))
                lines.append(f"  {len(seen):5d}  {name}  [{codes}]")
        return "\n".join(lines)

    def operation_names(self) -> set[str]:
        """Every documented operation, as "METHOD /path"."""
        return {f"{op.method.upper()} {op.path}" for op in self.operations}

    def never_reached(self) -> list[str]:
        """Operations that only ever answered 401/403/404/405, in any phase."""
        seen: dict[str, set[int]] = defaultdict(set)
        for per_operation in self.statuses.values():
            for name, statuses in per_operation.items():
                seen[name] |= set(statuses)
        return sorted(name for name in self.operation_names() if seen[name] <= NOT_REACHED)


def _json_or_none(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
