"""The encrypted store's tables as SQLAlchemy 2 models; Alembic migrations follow them.

Later record tables join ``StoreBase`` here (or in modules imported from here) so that one
metadata describes the whole database for migrations and tests.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class StoreBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class SettingRow(StoreBase):
    """One setting's value, JSON-encoded; the schema in ``desktop.domain.settings`` types it."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(nullable=False)
