"""Two real profiles through a real server: invite and admit from the page, a conflict settled in
the dialog and never raised again, then a removal that leaves the member list with one."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from desktop.app import QtLanguage
from desktop.domain.network_records import Material, Note
from desktop.domain.records import Organization, WorkingGroup, edit, mark_synced, new_id
from desktop.domain.translation import set_language
from desktop.store.records import RecordStore
from desktop.store.schema import UNSENT_KEPT, SyncConflictRow
from desktop.store.spaces import local_spaces
from desktop.store.sync_state import KeptBy, ProfileSyncState
from desktop.ui.main_window import MainWindow
from desktop.ui.sync.conflict_dialog import ConflictDialog, ConflictRow, edit_text
from desktop.ui.sync.network import InviteDialog, PendingCard
from desktop.ui.sync.page import listed_text, read_facts
from sync.client.engine import SyncEngine
from sync.client.merge import FieldConflict
from sync.client.state import RemoteRecord, Settlement, StoredConflict
from sync.client.transport import Transport
from tests.helpers.profiles import new_profile
from tests.ui.sync.conftest import Server, join_as_admin


def test_a_conflict_is_settled_in_the_dialog_and_stays_settled(
    unlocked: MainWindow, qtbot: QtBot, server: Server, tmp_path: Path
) -> None:
    page = join_as_admin(qtbot, unlocked, server)
    scheduler = unlocked.sync
    profile = unlocked.session.profile
    assert scheduler is not None and profile is not None
    space = page.network.spaces[0].space
    # This test says when each device syncs: no debounced sync may run in between.
    scheduler.DEBOUNCE_MS = 60 * 60_000

    # The admin invites from the page: a code shown once.
    page.network.open_invite()
    invite = next(d for d in page.network.findChildren(InviteDialog) if d.isVisible())
    qtbot.mouseClick(invite.create_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: invite.code != "", timeout=10_000)
    assert invite.code_label.text() == invite.code and invite.copy_button.isVisible()
    invite.accept()

    other, _recovery = new_profile(tmp_path / "other")
    other_state = ProfileSyncState(other.engine)
    other_engine = SyncEngine(other_state, Transport(server.url))
    try:
        joined = other_engine.enroll(invite.code)
        # The admin compares the newcomer's fingerprint, shown big, and admits.
        qtbot.mouseClick(page.network.check_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: len(page.network.findChildren(PendingCard)) == 1, timeout=10_000)
        card = page.network.findChildren(PendingCard)[0]
        assert card.fingerprint.text().split() == list(joined.fingerprint.groups)
        # Admit works only once the digits the newcomer reads aloud are typed, all of them.
        assert not card.admit_button.isEnabled()
        card.typed.setText("-".join(joined.fingerprint.groups))
        assert card.admit_button.isEnabled()
        qtbot.mouseClick(card.admit_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: len(page.network.spaces[0].members) == 2, timeout=10_000)

        mine = RecordStore(profile.engine).save(
            Organization(space_id=space, name="Casa Abierta", description="Shelter")
        )
        scheduler.sync_now()
        qtbot.waitUntil(lambda: scheduler.last_report.pushed == 1, timeout=10_000)  # type: ignore[union-attr]
        other_engine.sync_once(discover=True)
        # Its person compared the admin's fingerprint: until then its edits stay on it.
        other_engine.confirm_space(space)
        theirs = RecordStore(other.engine).require(mine.id)

        # Both change the name while apart; the other device syncs first.
        RecordStore(other.engine).save(edit(theirs, name="Casa Abierta del Sur"))
        assert other_engine.sync_once().pushed == 1
        mine = RecordStore(profile.engine).require(mine.id)
        RecordStore(profile.engine).save(edit(mine, name="Casa Abierta Norte"))
        scheduler.sync_now()
        qtbot.waitUntil(lambda: scheduler.conflicts == 1, timeout=10_000)
        qtbot.waitUntil(lambda: page.conflict_list.count() == 1, timeout=5_000)
        assert "1 conflict to resolve" in unlocked.status.sync_state.text()
        assert page.conflicts_box.isVisibleTo(page)

        page.conflict_list.setCurrentRow(0)
        qtbot.mouseClick(page.resolve_button, Qt.MouseButton.LeftButton)
        dialog = next(d for d in page.findChildren(ConflictDialog) if d.isVisible())
        (row,) = dialog.rows
        assert row.title() == "Name"
        assert (row.mine.text(), row.theirs.text()) == (
            "Casa Abierta Norte",
            "Casa Abierta del Sur",
        )
        qtbot.mouseClick(row.edit, Qt.MouseButton.LeftButton)
        assert row.editor.toPlainText() == "Casa Abierta Norte\n\nCasa Abierta del Sur"
        row.editor.setPlainText("Casa Abierta (Norte y Sur)")
        with qtbot.waitSignal(dialog.accepted, timeout=5_000):
            qtbot.mouseClick(row.save_edit, Qt.MouseButton.LeftButton)

        # The resolution is sent, reaches the other device, and no sync brings it back.
        qtbot.waitUntil(lambda: page.conflict_list.count() == 0, timeout=5_000)
        scheduler.sync_now()
        qtbot.waitUntil(lambda: not scheduler.busy and scheduler.pending == 0, timeout=10_000)
        other_engine.sync_once()
        assert RecordStore(other.engine).require(mine.id).name == "Casa Abierta (Norte y Sur)"
        scheduler.sync_now()
        qtbot.waitUntil(lambda: not scheduler.busy, timeout=10_000)
        assert ProfileSyncState(profile.engine).conflicts() == []
        assert scheduler.conflicts == 0 and page.conflict_list.count() == 0
        assert RecordStore(profile.engine).require(mine.id).name == "Casa Abierta (Norte y Sur)"

        # Removal: the member goes from the list (a new key is made for those who stay).
        page.network.remove(joined.device)
        qtbot.waitUntil(lambda: len(page.network.spaces[0].members) == 1, timeout=10_000)
        assert other_engine.sync_once().lost_spaces == [space]
    finally:
        other_engine.transport.close()
        other.close()
    QApplication.processEvents()


def test_the_editor_starts_with_long_text_merged_line_by_line() -> None:
    base = "Visit on Monday.\nPolice present.\n"
    apart = StoredConflict(
        1,
        "s",
        "r",
        "field",
        "narrative",
        base,
        "Visit on Monday morning.\nPolice present.\n",
        "Visit on Monday.\nPolice present.\nTwo trucks.\n",
    )
    assert edit_text(apart) == "Visit on Monday morning.\nPolice present.\nTwo trucks.\n"
    overlapping = StoredConflict(2, "s", "r", "field", "narrative", "a", "b", "c")
    assert edit_text(overlapping) == "b\n\nc"


def test_a_flag_is_read_and_dismissed(qtbot: QtBot) -> None:
    flag = StoredConflict(3, "s", "r", "deleted_elsewhere", None, None, None, None)
    row = ConflictRow(flag)
    qtbot.addWidget(row)
    assert "deleted this record" in row.flag_text.text()
    assert row.keep_mine.isHidden() and not row.dismiss.isHidden()
    with qtbot.waitSignal(row.chosen) as chosen:
        row.dismiss.click()
    assert chosen.args == [3, None]


def _moved_conflict(tmp_path: Path) -> tuple[Any, StoredConflict]:
    """A real profile holding a name conflict whose field someone changed since, and which
    folded an earlier conflict's two values in."""
    profile, _recovery = new_profile(tmp_path / "profile")
    records = RecordStore(profile.engine)
    org = records.save(Organization(space_id=new_id(), name="Casa Abierta del Sur"))
    with profile.engine.begin() as connection:
        for mine, theirs in (("Casa Norte", "Casa Sur"), ("Casa Abierta Norte", org.name)):
            ProfileSyncState._keep_field_conflict(
                connection,
                org.space_id,
                org.id,
                FieldConflict("name", "Casa Abierta", mine, theirs),
                KeptBy("2026-12-04T09:15:00.000000Z", "peer", "2026-12-04T10:30:00.000000Z"),
            )
    # Badu's later name arrives cleanly over what the record held when the conflict arose.
    records.save(edit(records.require(org.id), name="Casa Abierta (Norte y Sur)"))
    [conflict] = ProfileSyncState(profile.engine).conflicts()
    return profile, conflict


def test_the_dialog_shows_every_value_with_who_and_when_and_what_it_says_now(
    qtbot: QtBot, tmp_path: Path
) -> None:
    profile, conflict = _moved_conflict(tmp_path)
    try:
        assert conflict.moved_since
        assert [o.value for o in conflict.others] == ["Casa Norte", "Casa Sur"]
        dialog = ConflictDialog(profile, "Casa Abierta", [conflict], authors={"peer": "40312"})
        qtbot.addWidget(dialog)
        dialog.resize(1024, 680)
        dialog.show()
        (row,) = dialog.rows
        assert row.theirs_caption.text() == (
            "Theirs · the device whose fingerprint starts 40312 · 2026-12-04 10:30 UTC"
        )
        assert row.mine_caption.text() == "Mine · 2026-12-04 09:15 UTC"
        assert row.now.text() == "Casa Abierta (Norte y Sur)" and row.now.isVisible()
        shown = [(c.text(), v.text()) for c, v, _keep in row.other_views]
        assert shown == [
            ("Earlier · this device · 2026-12-04 09:15 UTC", "Casa Norte"),
            (
                "Earlier · the device whose fingerprint starts 40312 · 2026-12-04 10:30 UTC",
                "Casa Sur",
            ),
        ]
        set_language("ar")
        try:
            row.retranslate()  # what a LanguageChange does in the app
            assert row.keep_now.text() == "الاحتفاظ بما يقوله &الآن"  # said again in Arabic
        finally:
            set_language("en")
            row.retranslate()

        # "Keep mine" is weighed against what it says now: it does not merge, so it is asked
        # again, against the current value, with the earlier values still there.
        with qtbot.waitSignal(dialog.resolved, timeout=5_000):
            qtbot.mouseClick(row.keep_mine, Qt.MouseButton.LeftButton)
        (again,) = dialog.rows
        assert (again.mine.text(), again.theirs.text()) == (
            "Casa Abierta Norte",
            "Casa Abierta (Norte y Sur)",
        )
        assert again.now.isHidden() and "after the conflict arose" in again.message.text()
        assert len(again.other_views) == 2
        assert RecordStore(profile.engine).require(conflict.record).name == (
            "Casa Abierta (Norte y Sur)"
        )
        with qtbot.waitSignal(dialog.accepted, timeout=5_000):
            qtbot.mouseClick(again.other_views[1][2], Qt.MouseButton.LeftButton)
        assert RecordStore(profile.engine).require(conflict.record).name == "Casa Sur"
        assert ProfileSyncState(profile.engine).conflicts() == []
    finally:
        profile.close()


def test_a_record_only_a_newer_minga_opens_is_listed_as_needing_it(tmp_path: Path) -> None:
    profile, _recovery = new_profile(tmp_path / "profile")
    try:
        space, record = new_id(), new_id()
        newer = {"id": record, "space_id": space, "type": "hearing", "title": "Audiencia 4"}
        with profile.engine.begin() as connection:
            ProfileSyncState(profile.engine)._keep_sealed(
                connection,
                Settlement(RemoteRecord(space, record, 3, "peer", newer), newer, dirty=False),
                "unknown record type 'hearing'",
            )
        set_language("en")
        facts = read_facts(profile)
        title, kept = facts.conflicts[record]
        assert listed_text(title, kept) == "\u2068Audiencia 4\u2069: needs a newer Minga"
        set_language("es")
        assert listed_text(title, kept) == "\u2068Audiencia 4\u2069: necesita un Minga más reciente"
    finally:
        set_language("en")
        profile.close()


def test_theirs_vouched_for_by_an_administrator_says_so(qtbot: QtBot, tmp_path: Path) -> None:
    """A version that came in an admin's snapshot of a departed member's records names the
    admin's device, and says the admin vouched for it rather than wrote it (CRYPTO.md §5)."""
    profile, _recovery = new_profile(tmp_path / "profile")
    try:
        records = RecordStore(profile.engine)
        org = records.save(Organization(space_id=new_id(), name="Casa Norte"))
        with profile.engine.begin() as connection:
            ProfileSyncState._keep_field_conflict(
                connection,
                org.space_id,
                org.id,
                FieldConflict("name", "Casa", "Casa Norte", "Casa Sur"),
                KeptBy("2026-12-04T09:15:00.000000Z", "admin", "2026-12-04T10:30:00.000000Z", True),
            )
        [conflict] = ProfileSyncState(profile.engine).conflicts()
        assert conflict.theirs_vouched
        dialog = ConflictDialog(profile, "Casa Norte", [conflict], authors={"admin": "40312"})
        qtbot.addWidget(dialog)
        dialog.resize(1024, 680)
        dialog.show()
        (row,) = dialog.rows
        assert row.theirs_caption.text() == (
            "Theirs · the device whose fingerprint starts 40312 · "
            "vouched for by an administrator · 2026-12-04 10:30 UTC"
        )
        if shots := os.environ.get("MINGA_SHOTS"):
            dialog.grab().save(f"{shots}-en.png")
        set_language("ar")
        try:
            dialog.retranslate()
            row.retranslate()
            assert "بضمان أحد المسؤولين" in row.theirs_caption.text()
            if shots:
                dialog.setLayoutDirection(Qt.LayoutDirection.RightToLeft)
                dialog.grab().save(f"{shots}-ar.png")
        finally:
            set_language("en")
            row.retranslate()
    finally:
        profile.close()


_NOTICE_INTRO = {
    "en": "Nothing to choose here: this says what happened to the record during sync, and why.",
    "ar": "لا شيء لتختاره هنا: يوضح هذا ما حدث للسجل أثناء المزامنة، ولماذا.",
}


def test_an_own_note_dropped_with_its_deleted_material_is_named_and_explained(
    qtbot: QtBot, tmp_path: Path
) -> None:
    """rev-nest: a person's own note on a material whose deletion came from another device is
    dropped (no screen reached it under a deleted material) and the Sync page tells them,
    naming the note by its first line, in every language."""
    profile, _recovery = new_profile(tmp_path / "profile")
    try:
        records = RecordStore(profile.engine)
        space = new_id()
        group = records.save(WorkingGroup(space_id=space, name="Agua"))
        material = records.save(
            Material(
                space_id=space, working_group_id=group.id, title="Mapa", material_type="toolkit"
            )
        )
        own = records.save(
            Note(
                space_id=local_spaces(records).only_me.id,
                material_id=material.id,
                body="Preguntar por el pozo 3\nantes del viernes",
            )
        )
        state = ProfileSyncState(profile.engine)
        with profile.engine.begin() as connection:  # the deletion as a sync stores it
            state._tombstone(connection, material.id, 4, dirty=False)
        assert state.keep_together() == 0  # the note is no reason to bring it back
        assert records.get(own.id) is None
        set_language("en")
        title, kept = read_facts(profile).conflicts[own.id]
        assert title == "Preguntar por el pozo 3"
        for language, says in (("en", "This was yours only"), ("ar", "كان هذا لك وحدك")):
            set_language(language)
            QApplication.setLayoutDirection(
                Qt.LayoutDirection.RightToLeft
                if language == "ar"
                else Qt.LayoutDirection.LeftToRight
            )
            dialog = ConflictDialog(profile, title, kept, authors={})
            qtbot.addWidget(dialog)
            dialog.show()  # at its own size, as the Sync page opens it
            qtbot.waitExposed(dialog)
            (row,) = dialog.rows
            assert row.flag_text.text().startswith(says) and row.flag_text.isVisible()
            # Nothing to choose: the dialog does not ask to keep a version (a notice only).
            assert dialog.intro.text() == _NOTICE_INTRO[language]
            # Nothing wider or taller than the dialog at its own size (the bars of the first
            # layout pass go once it settles).
            bars = (dialog.scroll.horizontalScrollBar(), dialog.scroll.verticalScrollBar())
            qtbot.waitUntil(lambda bars=bars: not any(bar.isVisible() for bar in bars))
            dialog.grab().save(f"/tmp/rev-nest-taken-{language}.png")  # looked at
            dialog.close()
    finally:
        set_language("en")
        QApplication.setLayoutDirection(Qt.LayoutDirection.LeftToRight)
        profile.close()


_UNSENT_KEPT = {
    "en": "Your last change to it had not been sent yet.",
    "ar": "لم يكن آخر تغيير أجريته عليه قد أُرسل بعد.",
}


def test_a_taken_note_holding_an_unsent_change_says_it_is_kept_and_understood_keeps_it(
    app: QApplication, qtbot: QtBot, tmp_path: Path
) -> None:
    """A note of one's own, synced once and edited since, is dropped with its deleted material
    before the edit went out: its note on the Sync page says the change is kept, also after
    "Understood"; pressing it takes the note off the page and keeps the change apart, for the
    note's return. A note dropped with nothing unsent does not say so, and simply goes."""
    profile, _recovery = new_profile(tmp_path / "profile")
    try:
        records = RecordStore(profile.engine)
        space = new_id()
        group = records.save(WorkingGroup(space_id=space, name="Agua"))
        material = records.save(
            Material(
                space_id=space, working_group_id=group.id, title="Mapa", material_type="toolkit"
            )
        )
        only_me = local_spaces(records).only_me.id
        sent = records.save(
            mark_synced(
                Note(space_id=only_me, material_id=material.id, body="Pozo 3: sin revisar"), 2
            )
        )
        edited = records.save(edit(sent, body="Pozo 3: agua turbia desde el lunes"))
        untouched = records.save(
            Note(space_id=only_me, material_id=material.id, body="Llamar a Rosa")
        )
        state = ProfileSyncState(profile.engine)
        with profile.engine.begin() as connection:  # the deletion as a sync stores it
            state._tombstone(connection, material.id, 4, dirty=False)
        assert state.keep_together() == 0
        set_language("en")
        facts = read_facts(profile).conflicts
        title, kept = facts[edited.id]
        assert title == "Pozo 3: agua turbia desde el lunes"
        qt_language = QtLanguage(app)
        for language in ("en", "ar"):
            set_language(language)
            qt_language.apply(language)  # the app's way: RTL and Qt's own buttons follow
            dialog = ConflictDialog(profile, title, kept, authors={})
            qtbot.addWidget(dialog)
            dialog.resize(1024, 680)
            dialog.show()
            qtbot.waitExposed(dialog)
            (row,) = dialog.rows
            assert _UNSENT_KEPT[language] in row.flag_text.text() and row.flag_text.isVisible()
            bars = (dialog.scroll.horizontalScrollBar(), dialog.scroll.verticalScrollBar())
            qtbot.waitUntil(lambda bars=bars: not any(bar.isVisible() for bar in bars))
            dialog.grab().save(f"/tmp/dismiss-unsent-{language}.png")  # looked at
            dialog.close()
        set_language("en")
        qt_language.apply("en")
        other_title, other = facts[untouched.id]
        plain = ConflictDialog(profile, other_title, other, authors={})
        qtbot.addWidget(plain)
        assert "not been sent" not in plain.rows[0].flag_text.text()
        # "Understood", in the dialog, on both notes: they leave the page.
        for record, (name, conflicts) in (
            (edited.id, (title, kept)),
            (untouched.id, facts[untouched.id]),
        ):
            dialog = ConflictDialog(profile, name, conflicts, authors={})
            # Not handed to qtbot: settled, the dialog closes and deletes itself.
            dialog.show()
            with qtbot.waitSignal(dialog.resolved, timeout=5_000):
                qtbot.mouseClick(dialog.rows[0].dismiss, Qt.MouseButton.LeftButton)
            assert record not in read_facts(profile).conflicts
        # The change is kept apart, for when the note comes back.
        with profile.engine.connect() as connection:
            (unsent,) = connection.execute(
                select(SyncConflictRow.record_id, SyncConflictRow.mine).where(
                    SyncConflictRow.kind == UNSENT_KEPT
                )
            ).all()
        assert unsent.record_id == edited.id
        assert "agua turbia" in unsent.mine
    finally:
        set_language("en")
        QtLanguage(app).apply("en")
        profile.close()
