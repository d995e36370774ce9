"""The application factory: settings in, a Flask app with every blueprint bound out."""

from __future__ import annotations

from flask import Flask, Response, jsonify
from werkzeug.middleware.proxy_fix import ProxyFix

from alerts import audience
from haven import db, errors, i18n, logs, privacy, ratelimit, security
from haven.openapi import build_spec, document
from haven.settings import PROJECT_ROOT, Settings


def create_app(settings: Settings | None = None) -> Flask:
    """Create a Haven app from `settings` (by default, from the environment)."""
    settings = settings or Settings()
    app = Flask(
        __name__,
        instance_path=str(PROJECT_ROOT / "instance"),
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.config.update(MAX_CONTENT_LENGTH=settings.max_request_bytes, JSON_SORT_KEYS=False)
    app.extensions["haven.settings"] = settings
    if settings.proxy_hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.proxy_hops)  # type: ignore[method-assign]

    logs.configure(settings.log_level)
    db.init_app(app, db.Database(settings.database_url))
    errors.init_app(app)
    logs.init_app(app)
    privacy.init_app(app)
    i18n.init_app(app)
    security.init_app(app, https=settings.public_url.startswith("https://"))
    ratelimit.init_app(app, redis_url=settings.redis_url, secret=settings.secret_key)
    audience.init_app(app)
    if settings.broker_url:
        from haven.celery_app import make_celery

        make_celery(app)
    _register_blueprints(app)

    @app.get("/api/openapi.json")
    @document("This OpenAPI 3.1 document.", auth=None, responses={200: "The document."})
    def openapi_json() -> Response:
        """The OpenAPI 3.1 document of every API route."""
        return jsonify(build_spec(app))

    return app


def _register_blueprints(app: Flask) -> None:
    from alerts.api import bp as alerts_bp
    from alerts.dispatch.webhooks import bp as twilio_status_bp
    from alerts.pages import bp as alert_pages_bp
    from haven.health import bp as health_bp
    from takedown.api import bp as takedown_bp
    from takedown.feed import bp as feed_bp
    from takedown.pages import bp as takedown_pages_bp
    from takedown.stopncii import bp as stopncii_bp

    for bp in (
        health_bp,
        takedown_bp,
        feed_bp,
        stopncii_bp,
        alerts_bp,
        alert_pages_bp,
        twilio_status_bp,
    ):
        app.register_blueprint(bp)
    app.register_blueprint(takedown_pages_bp)

    from alerts.subscriptions.api import bp as subscription_api_bp
    from alerts.subscriptions.pages import bp as subscription_pages_bp
    from alerts.subscriptions.webhooks import bp as subscription_webhooks_bp

    for bp in (subscription_webhooks_bp, subscription_api_bp, subscription_pages_bp):
        app.register_blueprint(bp)


def get_settings() -> Settings:
    """The settings of the current app."""
    from flask import current_app

    settings: Settings = current_app.extensions["haven.settings"]
    return settings
