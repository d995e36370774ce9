"""Security headers on every response: a strict Content-Security-Policy and its companions.

Pages may load only their own origin's files and talk only to their own origin: no inline
script, no eval, no other host, no frames. Two responses differ:

- the hashing worker's script. A worker obeys the policy sent with its own script, and
  hash-wasm compiles WebAssembly, which needs 'wasm-unsafe-eval' (docs/hashing.md);
- JSON, which is never rendered, so it gets the tightest policy of all.
"""

from __future__ import annotations

from flask import Flask, Response, g, request

# The page policy. Translated strings reach scripts in <script type="application/json">
# blocks, which are data, not script, so they need no exception.
PAGE_CSP = (
    "default-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
WORKER_CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'"
JSON_CSP = "default-src 'none'; frame-ancestors 'none'"
WORKER_SCRIPTS = frozenset({"/static/takedown/hashing/worker.js"})
# Powerful features no Haven page uses. (Clipboard writes stay allowed: "Copy" uses them.)
_FORBIDDEN = (
    "accelerometer", "camera", "display-capture", "gyroscope", "hid", "magnetometer",
    "microphone", "midi", "payment", "serial", "usb",
)  # fmt: skip
PERMISSIONS_POLICY = ", ".join(f"{feature}=()" for feature in (*_FORBIDDEN, "geolocation"))
# The subscribe form offers "Use my current location"; only it may ask, and only when the
# person presses that button.
GEOLOCATION_PAGES = frozenset({"/alerts/subscribe"})
GEOLOCATION_POLICY = ", ".join([*(f"{feature}=()" for feature in _FORBIDDEN), "geolocation=(self)"])
JAVASCRIPT_TYPES = frozenset({"application/javascript", "application/x-javascript"})


def content_security_policy(path: str, mimetype: str) -> str:
    """The policy for a response to `path` of type `mimetype`."""
    if path in WORKER_SCRIPTS:
        return WORKER_CSP
    if mimetype == "application/json":
        return JSON_CSP
    return PAGE_CSP


def init_app(app: Flask, *, https: bool = False) -> None:
    """Add the headers to every response; with `https`, also tell browsers to stay on it."""

    @app.after_request
    def _security_headers(response: Response) -> Response:
        # Module scripts and module workers refuse any type but a JavaScript one; some
        # systems' mime.types still map .js to application/javascript.
        if response.mimetype in JAVASCRIPT_TYPES:
            response.mimetype = "text/javascript"
        headers = response.headers
        policy = content_security_policy(request.path, response.mimetype or "")
        # A console page with a configured base map may show that tile server's images
        # (alerts/console/drafting.py sets g.csp_img_origins); every other page keeps its policy.
        img_origins = g.get("csp_img_origins")
        if img_origins and policy == PAGE_CSP:
            policy += "; img-src 'self' " + " ".join(img_origins)
        headers["Content-Security-Policy"] = policy
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = "no-referrer"
        headers["X-Frame-Options"] = "DENY"
        headers["Cross-Origin-Opener-Policy"] = "same-origin"
        # Unless the route chose otherwise: a child's photo in an AMBER alert is meant to be
        # shown on other sites (alerts/pages.py).
        headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
        headers["Permissions-Policy"] = (
            GEOLOCATION_POLICY if request.path in GEOLOCATION_PAGES else PERMISSIONS_POLICY
        )
        if https:
            headers["Strict-Transport-Security"] = "max-age=31536000"
        return response
