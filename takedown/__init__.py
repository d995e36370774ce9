"""Take It Down: anonymous removal cases, the platform hash feed, and platform feedback."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Wire Take It Down into `app`: its API, the platform feeds and its pages."""
    # Imported here so that `import takedown.models` (migrations, tests) loads no routes.
    from takedown import feed, stopncii
    from takedown.api import bp as api_bp
    from takedown.pages import bp as pages_bp

    for bp in (api_bp, feed.bp, stopncii.bp, pages_bp):
        app.register_blueprint(bp)
    # The sandbox: the same routes again, for sandbox platforms and synthetic hashes only.
    app.register_blueprint(feed.bp, name=feed.SANDBOX_NAME, url_prefix=feed.SANDBOX_PREFIX)
    app.register_blueprint(
        stopncii.bp, name=stopncii.SANDBOX_NAME, url_prefix=stopncii.SANDBOX_PREFIX
    )
