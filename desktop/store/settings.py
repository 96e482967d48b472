"""Settings kept inside the encrypted profile, typed by the declared schema.

Settings marked ``device_hint`` (the language, the quick delete shortcut and threshold) are also
mirrored to ``device.json`` beside the database, so the unlock screen can speak the person's
language and offer quick delete before any key exists.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from desktop.domain.settings import SCHEMA_VERSION, SETTINGS, setting
from desktop.store.files import read_json_object, write_atomically
from desktop.store.schema import SettingRow

DEVICE_HINTS_FILE = "device.json"
_SCHEMA_KEY = "__schema_version__"


def read_device_hints(folder: Path) -> dict[str, Any]:
    """The non-secret hints of the profile in ``folder`` (``{}`` when there are none)."""
    hints = read_json_object(folder / DEVICE_HINTS_FILE)
    allowed = {s.key for s in SETTINGS if s.device_hint}
    result: dict[str, Any] = {}
    for key, value in hints.items():
        if key in allowed:
            try:
                result[key] = setting(key).coerce(value)
            except ValueError:
                continue  # a hand-edited hint is ignored, never trusted
    return result


class SettingsStore:
    """Typed access to the ``settings`` table of one unlocked profile."""

    def __init__(self, engine: Engine, folder: Path) -> None:
        self._engine = engine
        self._folder = folder

    def get(self, key: str) -> Any:
        declared = setting(key)
        with Session(self._engine) as session:
            row = session.get(SettingRow, key)
        if row is None:
            return declared.default
        try:
            return declared.coerce(json.loads(row.value))
        except ValueError:
            return declared.default  # a value from an older schema that no longer fits

    def all(self) -> dict[str, Any]:
        with Session(self._engine) as session:
            stored = {row.key: row.value for row in session.scalars(select(SettingRow))}
        values: dict[str, Any] = {}
        for declared in SETTINGS:
            raw = stored.get(declared.key)
            try:
                values[declared.key] = (
                    declared.default if raw is None else declared.coerce(json.loads(raw))
                )
            except ValueError:
                values[declared.key] = declared.default
        return values

    def set(self, key: str, value: Any) -> None:
        """Store ``value``; raises ``SettingError`` (translated) if it does not fit."""
        declared = setting(key)
        value = declared.coerce(value)
        now = datetime.now(UTC).replace(tzinfo=None)
        with Session(self._engine) as session, session.begin():
            for row_key, row_value in ((key, value), (_SCHEMA_KEY, SCHEMA_VERSION)):
                row = session.get(SettingRow, row_key)
                encoded = json.dumps(row_value)
                if row is None:
                    session.add(SettingRow(key=row_key, value=encoded, updated_at=now))
                else:
                    row.value, row.updated_at = encoded, now
        if declared.device_hint:
            self._write_hints()

    def _write_hints(self) -> None:
        values = self.all()
        hints = {s.key: values[s.key] for s in SETTINGS if s.device_hint}
        write_atomically(
            self._folder / DEVICE_HINTS_FILE,
            (json.dumps(hints, sort_keys=True) + "\n").encode("utf-8"),
        )
