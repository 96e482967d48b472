"""Throwaway PostgreSQL databases for tests, on the server named by MINGA_TEST_POSTGRES_URL.
Unset: PostgreSQL tests skip and say why. Set but unreachable: they fail, loudly."""

from __future__ import annotations

import os
import secrets

import psycopg
import pytest
from sqlalchemy import make_url

ENV = "MINGA_TEST_POSTGRES_URL"
SKIP_REASON = f"{ENV} not set: no PostgreSQL configured"


def admin_url() -> str:
    url = os.environ.get(ENV, "")
    if not url:
        pytest.skip(SKIP_REASON)
    return url


def _libpq(url: str) -> str:
    # psycopg wants a plain libpq URL, without SQLAlchemy's +driver suffix.
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def create_database(prefix: str = "minga_test") -> str:
    """A fresh, uniquely named database; returns its URL."""
    url = admin_url()
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"
    try:
        with psycopg.connect(_libpq(url), autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        pytest.fail(f"{ENV} is set but PostgreSQL does not answer: {exc}")
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    name = make_url(url).database
    with psycopg.connect(_libpq(admin_url()), autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
