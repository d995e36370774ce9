"""The production WSGI server: gunicorn with threaded workers, configured from code.

Haven writes its own access log (see haven/logs.py), so gunicorn's is off: gunicorn's would
record client addresses on routes that must never keep them.
"""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication

from haven.app import create_app
from haven.settings import Settings


class _HavenServer(BaseApplication):  # type: ignore[misc]
    def __init__(self, settings: Settings, options: dict[str, Any]) -> None:
        self.settings = settings
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from haven.worker import start_in_process

        app = create_app(self.settings)
        start_in_process(app)
        return app


def run(*, settings: Settings, host: str, port: int, workers: int, threads: int) -> None:
    """Serve the app made from `settings` until interrupted."""
    _HavenServer(
        settings,
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "threads": threads,
            "worker_class": "gthread",
            "accesslog": None,
            "errorlog": "-",
            "graceful_timeout": 20,
            # Gunicorn 27's control socket is one path per user: servers would collide.
            "control_socket_disable": True,
            "timeout": 60,
        },
    ).run()
