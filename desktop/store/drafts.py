"""Drafts: an editor's unsaved form state, kept inside the encrypted profile when Minga locks.

A draft is the editor's raw fields (JSON), never a validated record, so text that would not
save yet is kept too. It lives in the SQLCipher database like every record; nothing of it is
logged. Saving the record or discarding the draft removes it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, delete, select
from sqlalchemy.dialects.sqlite import insert

from desktop.domain.fields import encode_datetime
from desktop.domain.records import new_id, utc_now
from desktop.store.schema import EditorDraftRow


@dataclass(frozen=True)
class Draft:
    """What one editor held: which editor, for which record, and its fields as typed.

    ``record_id`` is the record edited (a new incident already has its id; a new directory
    record has none). ``label`` names it in the offer to reopen it.
    """

    editor: str
    space_id: str
    state: dict[str, Any]
    record_id: str | None = None
    is_new: bool = False
    label: str = ""
    id: str = field(default_factory=new_id)
    saved_at: str = ""


class DraftStore:
    """Save, list, take and discard the drafts of one unlocked profile."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def save(self, draft: Draft) -> Draft:
        """Store ``draft``, replacing an earlier draft with the same id; returns it stamped."""
        stamped = Draft(
            editor=draft.editor,
            space_id=draft.space_id,
            state=draft.state,
            record_id=draft.record_id,
            is_new=draft.is_new,
            label=draft.label,
            id=draft.id,
            saved_at=encode_datetime(utc_now()),
        )
        values = {
            "id": stamped.id,
            "editor": stamped.editor,
            "record_id": stamped.record_id,
            "space_id": stamped.space_id,
            "is_new": stamped.is_new,
            "label": stamped.label,
            "state": json.dumps(stamped.state, ensure_ascii=False, sort_keys=True),
            "saved_at": stamped.saved_at,
        }
        statement = insert(EditorDraftRow).values(values)
        statement = statement.on_conflict_do_update(
            index_elements=[EditorDraftRow.id],
            set_={k: v for k, v in values.items() if k != "id"},
        )
        with self._engine.begin() as connection:
            connection.execute(statement)
        return stamped

    def save_all(self, drafts: list[Draft]) -> None:
        for draft in drafts:
            self.save(draft)

    def all(self) -> list[Draft]:
        """Every draft, oldest first (the order they are offered in)."""
        query = select(EditorDraftRow).order_by(EditorDraftRow.saved_at, EditorDraftRow.id)
        with self._engine.connect() as connection:
            rows = connection.execute(query).all()
        return [_draft(row) for row in rows]

    def get(self, draft_id: str) -> Draft | None:
        query = select(EditorDraftRow).where(EditorDraftRow.id == draft_id)
        with self._engine.connect() as connection:
            row = connection.execute(query).first()
        return _draft(row) if row is not None else None

    def take(self, draft_id: str) -> Draft | None:
        """Read and remove a draft in one transaction (None if it is gone already)."""
        query = select(EditorDraftRow).where(EditorDraftRow.id == draft_id)
        with self._engine.begin() as connection:
            row = connection.execute(query).first()
            if row is None:
                return None
            connection.execute(delete(EditorDraftRow).where(EditorDraftRow.id == draft_id))
        return _draft(row)

    def discard(self, draft_id: str) -> bool:
        """Remove a draft; True if there was one."""
        with self._engine.begin() as connection:
            result = connection.execute(delete(EditorDraftRow).where(EditorDraftRow.id == draft_id))
        return bool(result.rowcount)


def _draft(row: Any) -> Draft:
    state = json.loads(row.state)
    return Draft(
        editor=row.editor,
        space_id=row.space_id,
        state=state if isinstance(state, dict) else {},
        record_id=row.record_id,
        is_new=bool(row.is_new),
        label=row.label,
        id=row.id,
        saved_at=row.saved_at,
    )
