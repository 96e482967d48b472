"""Alembic migrations of the server schema; `minga-server init` applies them.
Each revision is hand-written and runs the same on SQLite and PostgreSQL."""
