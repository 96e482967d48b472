"""PostgreSQL databases for fault runs on the server named by ``--postgres`` (or
MINGA_TEST_POSTGRES_URL): each run's database is a clone of the template's
(``CREATE DATABASE … TEMPLATE``), so a run starts from the enrolled network at once."""

from __future__ import annotations

import os

import psycopg
from sqlalchemy import make_url


def _libpq(url: str) -> str:
    # psycopg wants a plain libpq URL, without SQLAlchemy's +driver suffix.
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def database_name(label: str) -> str:
    return f"minga_fault_{os.getpid()}_{label}"


def create_database(admin_url: str, name: str, template: str | None = None) -> str:
    """A new database ``name`` (a copy of ``template`` if given); returns its URL."""
    clone = f' TEMPLATE "{template}"' if template else ""
    with psycopg.connect(_libpq(admin_url), autocommit=True, connect_timeout=5) as connection:
        connection.execute(f'CREATE DATABASE "{name}"{clone}')
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(_libpq(admin_url), autocommit=True, connect_timeout=5) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
