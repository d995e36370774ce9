"""The application factory: settings in, a Flask app with every blueprint bound out."""

from __future__ import annotations

from flask import Flask, Response, jsonify
from werkzeug.middleware.proxy_fix import ProxyFix

import alerts
import takedown
from haven import db, errors, i18n, logs, metrics, privacy, ratelimit, security, web
from haven.health import bp as health_bp
from haven.home import bp as home_bp
from haven.openapi import build_spec, document
from haven.settings import PROJECT_ROOT, Settings


def create_app(settings: Settings | None = None) -> Flask:
    """Create a Haven app from `settings` (by default, from the environment)."""
    settings = settings or Settings()
    app = Flask(
        __name__,
        instance_path=str(settings.instance_path),
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
    web.init_app(app)  # before any blueprint: routes use its `dbid` converter
    logs.init_app(app)
    metrics.init_app(app)
    privacy.init_app(app)
    i18n.init_app(app)
    security.init_app(app, https=settings.public_url.startswith("https://"))
    ratelimit.init_app(app, redis_url=settings.redis_url, secret=settings.secret_key)
    if settings.broker_url:
        from haven.celery_app import make_celery

        make_celery(app)
    app.register_blueprint(health_bp)
    app.register_blueprint(home_bp)
    takedown.init_app(app)
    alerts.init_app(app)

    @app.get("/api/openapi.json")
    @document("This OpenAPI 3.1 document.", auth=None, responses={200: "The document."})
    def openapi_json() -> Response:
        """The OpenAPI 3.1 document of every API route."""
        return jsonify(build_spec(app))

    return app
