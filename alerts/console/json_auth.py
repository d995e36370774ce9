"""Signing in for the console's JSON routes (the update preview, the map data under
/console/geo/): their callers are the console's scripts, not a person's browser, so nobody
signed in is a 401 JSON error the scripts can explain (`sessions.require_officer`), never
the redirect to the sign-in page that a page gets.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from flask import g

from alerts.console.sessions import require_officer

P = ParamSpec("P")
R = TypeVar("R")


def signed_in_json(view: Callable[P, R]) -> Callable[P, R]:
    """For the console's JSON routes: the signed-in officer is in `g.officer`; without one,
    401 `unauthorized` as JSON. State-changing requests must carry the CSRF token."""

    @functools.wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        g.officer = require_officer()
        return view(*args, **kwargs)

    return wrapper
