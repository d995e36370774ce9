"""AMBER alerts: agencies, officers, alerts and their areas, CAP 1.2, subscribers, dispatch."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Wire AMBER alerts into `app`: the audience index, the subscribers' languages and every
    alerts blueprint.

    Called by `haven.app.create_app` after the shell's extensions (settings, database,
    throttle) are bound.
    """
    # Imported here so that `import alerts.models` (migrations, tests) loads no routes.
    from alerts import audience, console, previews
    from alerts.api import areas_bp
    from alerts.api import bp as api_bp
    from alerts.cap_sign import load_cap_signer
    from alerts.dispatch.webhooks import bp as twilio_status_bp
    from alerts.dispatch.webhooks import vonage_bp as vonage_status_bp
    from alerts.pages import bp as pages_bp
    from alerts.publish import CAP_SIGNER
    from alerts.subscriptions.api import bp as subscription_api_bp
    from alerts.subscriptions.pages import bp as subscription_pages_bp
    from alerts.subscriptions.webhooks import bp as subscription_webhooks_bp
    from alerts.subscriptions.webhooks import vonage_bp as subscription_vonage_bp

    audience.init_app(app)
    previews.init_app(app)
    settings = app.extensions["haven.settings"]
    key, cert = settings.cap_signing_key, settings.cap_signing_cert
    # Settings checked both files at start-up; every CAP document is signed with them.
    signer = load_cap_signer(key_path=key, cert_path=cert) if key and cert else None
    app.extensions[CAP_SIGNER] = signer
    for bp in (
        api_bp,
        areas_bp,
        pages_bp,
        twilio_status_bp,
        vonage_status_bp,
        subscription_webhooks_bp,
        subscription_vonage_bp,
        subscription_api_bp,
        subscription_pages_bp,
    ):
        app.register_blueprint(bp)
    console.init_app(app)
