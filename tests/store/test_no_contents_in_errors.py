"""A database error never carries what was being written (issue 12, no trace outside the
profile): the app logs unexpected failures with their traceback to stderr, which a desktop
session sends to its journal or ~/.xsession-errors, outside the encrypted profile."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.helpers.profiles import new_profile


def test_a_failed_statement_does_not_quote_its_parameters(tmp_path: Path) -> None:
    profile, _ = new_profile(tmp_path / "profile")
    try:
        with pytest.raises(DBAPIError) as caught, profile.engine.begin() as connection:
            # A write that fails (here: a table that is not there), holding a record's words.
            connection.execute(
                text("INSERT INTO no_such_table (content) VALUES (:content)"),
                {"content": "what the witness said in Buenaventura"},
            )
        assert "Buenaventura" not in str(caught.value)
        assert "no_such_table" in str(caught.value)  # the statement still says what failed
    finally:
        profile.close()
