"""Conflicts a person can decide: a record in conflict is marked in its list (icon, tooltip,
accessible description), the mark goes once it is settled; every field of every record type has
a label in the four languages, which the conflict dialog shows instead of the stored name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGroupBox
from pytestqt.qtbot import QtBot
from sqlalchemy import delete, insert

from desktop.domain.records import RECORD_TYPES, Organization
from desktop.domain.translation import set_language
from desktop.store.profile import Profile
from desktop.store.records import RecordStore
from desktop.store.schema import SyncConflictRow
from desktop.ui.directory.page import DirectoryPage
from desktop.ui.field_labels import FIELD_LABELS, field_label
from desktop.ui.lists import CONFLICT_ROLE
from desktop.ui.sync.conflict_dialog import ConflictDialog
from sync.client.state import StoredConflict

from .test_directory import wait_for_rows

I18N = Path(__file__).resolve().parents[3] / "i18n"

WAIT = 10_000


def _conflict(profile: Profile, record: Organization) -> None:
    with profile.engine.begin() as connection:
        connection.execute(
            insert(SyncConflictRow).values(
                record_id=record.id,
                space_id=record.space_id,
                kind="field",
                field="acronym",
                base=json.dumps("CTV"),
                mine=json.dumps("CTV-Co"),
                theirs=json.dumps("C.T.V."),
            )
        )


def test_a_record_in_conflict_is_marked_in_its_list_until_settled(
    qtbot: QtBot, page: DirectoryPage, profile: Profile, store: RecordStore, space_id: str
) -> None:
    calm = store.save(Organization(space_id=space_id, name="Asociación Agua Viva"))
    torn = store.save(Organization(space_id=space_id, name="Colectivo Tierra Viva"))
    _conflict(profile, torn)
    organizations = page.show_list("organization")
    organizations.refresh()
    wait_for_rows(qtbot, organizations, 2)
    model = organizations.model
    marks = {
        model.row_at(row).id: model.index(row, 0).data(CONFLICT_ROLE)
        for row in range(model.rowCount())
    }
    assert marks == {calm.id: False, torn.id: True}
    row = model.row_of(torn.id)
    assert model.index(row, 0).data(Qt.ItemDataRole.DecorationRole) is not None
    assert "in conflict" in model.index(row, 0).data(Qt.ItemDataRole.ToolTipRole)
    assert model.index(model.row_of(calm.id), 0).data(Qt.ItemDataRole.DecorationRole) is None

    with profile.engine.begin() as connection:
        connection.execute(delete(SyncConflictRow))  # settled
    organizations.refresh()
    qtbot.waitUntil(lambda: not model.busy and model.rowCount() == 2, timeout=WAIT)
    assert not any(model.index(r, 0).data(CONFLICT_ROLE) for r in range(model.rowCount()))


def _declared_fields() -> set[str]:
    return {spec.name for rt in RECORD_TYPES.values() for spec in rt.fields}


def test_every_field_of_every_record_type_has_a_label() -> None:
    assert _declared_fields() - set(FIELD_LABELS) == set()


@pytest.mark.parametrize("language", ["es", "fr", "ar"])
def test_every_field_label_is_translated(language: str) -> None:
    with (I18N / language / "LC_MESSAGES" / "minga.po").open("rb") as handle:
        catalogue = read_po(handle, locale=language)
    untranslated = sorted(
        label
        for name in _declared_fields()
        if not (message := catalogue.get(label := FIELD_LABELS[name])) or not message.string
    )
    assert untranslated == []


def test_the_conflict_dialog_names_the_field_as_people_know_it(
    qtbot: QtBot, profile: Profile, store: RecordStore, space_id: str
) -> None:
    record = store.save(Organization(space_id=space_id, name="Colectivo Tierra Viva"))
    conflict = StoredConflict(1, space_id, record.id, "field", "acronym", "CTV", "CTV-Co", "C.T.V.")
    dialog = ConflictDialog(profile, "Colectivo Tierra Viva", [conflict])
    qtbot.addWidget(dialog)
    titles = [box.title() for box in dialog.findChildren(QGroupBox)]
    assert "Acronym" in titles and "acronym" not in titles
    set_language("es")
    try:
        qtbot.waitUntil(lambda: "Sigla" in [b.title() for b in dialog.findChildren(QGroupBox)])
        assert field_label("consents[2]") == "Consentimiento"
    finally:
        set_language("en")
