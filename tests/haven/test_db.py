"""The database layer: what an error may say."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from haven.db import get_session


def test_a_database_error_never_carries_its_parameters(app: Flask) -> None:
    # A case number or a PIN hash bound into a failing query must not reach the error log.
    with app.app_context(), pytest.raises(SQLAlchemyError) as failed:
        get_session().execute(
            text("SELECT * FROM no_such_table WHERE x = :number"), {"number": "PXEUSCQ3G"}
        )
    assert "PXEUSCQ3G" not in str(failed.value)
