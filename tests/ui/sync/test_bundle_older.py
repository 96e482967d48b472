"""A bundle older than what this computer holds, imported on the Sync page: the result says how
many of its records were older than the copies here, and none of them is rolled back.

The edit is made as a person makes it, in the directory's form, and reaches the server as a new
revision; a record saved as read (not through ``edit``) stays clean and is never sent, which is
how an earlier attempt at this test saw nothing older.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox
from pytestqt.qtbot import QtBot

from desktop.domain.records import Organization
from desktop.domain.translation import set_language
from desktop.store.records import RecordStore
from desktop.store.sync_state import ProfileSyncState
from desktop.ui.directory import DirectoryPage
from desktop.ui.directory.forms import OrganizationForm
from desktop.ui.main_window import MainWindow
from sync.client.bundles import export_bundle
from sync.client.engine import SyncEngine
from sync.client.transport import Transport
from sync.protocol import Role
from tests.helpers.fit import clipped_texts
from tests.helpers.profiles import new_profile
from tests.ui.directory.test_directory import select
from tests.ui.sync.conftest import Server, join_as_admin, sync_page

SHOTS = Path("/tmp")
WAIT = 60_000


def test_an_older_bundle_is_said_older_and_changes_nothing(
    unlocked: MainWindow, qtbot: QtBot, server: Server, tmp_path: Path
) -> None:
    page = join_as_admin(qtbot, unlocked, server)
    assert unlocked.sync is not None and unlocked.workspace is not None
    link = unlocked.sync.link
    (space,) = page.network.spaces
    profile = unlocked.session.profile
    assert profile is not None
    store = RecordStore(profile.engine)
    org = store.save(Organization(space_id=space.space, name="Tierra Viva", country="co"))
    link.run(lambda e: e.sync_once())
    assert store.require(org.id).revision == 1

    # A member's computer takes revision 1, then stays offline.
    member_profile, _recovery = new_profile(tmp_path / "member")
    member = SyncEngine(
        ProfileSyncState(member_profile.engine, member_profile.attachments), Transport(server.url)
    )
    member.enroll(link.run(lambda e: e.invite(space.space, Role.EDITOR)))
    link.run(lambda e: e.admit(space.space, e.pending_members(space.space)))
    member.sync_once(discover=True)
    member.confirm_space(space.space)
    assert RecordStore(member_profile.engine).require(org.id).revision == 1

    # Here the person edits it in the directory and it syncs: revision 2.
    unlocked.resize(1024, 680)
    unlocked.workspace.show_section("directory")
    directory = unlocked.workspace.page("directory")
    assert isinstance(directory, DirectoryPage)
    organizations = directory.show_list("organization")
    organizations.refresh()  # the list was read before the organization came
    select(qtbot, organizations, "Tierra Viva")
    qtbot.mouseClick(organizations.detail.edit_button, Qt.MouseButton.LeftButton)
    form = organizations.form
    assert isinstance(form, OrganizationForm)
    form.acronym.setText("TV")
    _save(qtbot, form)
    qtbot.waitUntil(lambda: store.require(org.id).dirty, timeout=WAIT)
    link.run(lambda e: e.sync_once())
    edited = store.require(org.id)
    assert isinstance(edited, Organization)
    assert (edited.revision, edited.dirty, edited.acronym) == (2, False, "TV")

    # The member's bundle still carries revision 1: older than the copy here, left as it was.
    export_bundle(member, tmp_path / "from-member.mbundle")
    page = sync_page(unlocked, qtbot)
    panel = page.bundles
    panel.import_from(tmp_path / "from-member.mbundle")
    qtbot.waitUntil(lambda: "imported from computer" in panel.status.text(), timeout=WAIT)
    assert "1 record older than the copy on this computer, left as it was" in panel.status.text()
    kept = store.require(org.id)
    assert isinstance(kept, Organization)
    assert (kept.revision, kept.acronym) == (2, "TV")

    for language, older in (
        ("en", "older than the copy"),
        ("es", "más antiguo que la copia"),
        ("fr", "plus ancienne que la copie"),
        ("ar", "أقدم من النسخة"),
    ):
        set_language(language)
        qtbot.waitUntil(lambda o=older: o in panel.status.text(), timeout=WAIT)  # type: ignore[misc]
        page.scroll_area.ensureWidgetVisible(panel.status)
        qtbot.wait(300)  # the layout settles before the picture
        unlocked.grab().save(str(SHOTS / f"rev-ui-older-{language}.png"))
        assert clipped_texts(unlocked) == [], language
    assert "؛ " in panel.status.text() and ";" not in panel.status.text()  # Arabic's own
    unlocked.resize(720, 520)  # the window's minimum size
    for language in ("ar", "en"):
        set_language(language)
        qtbot.waitUntil(lambda: bool(panel.status.text()), timeout=WAIT)
        page.scroll_area.ensureWidgetVisible(panel.status)
        qtbot.wait(300)  # the layout settles before the picture
        unlocked.grab().save(str(SHOTS / f"rev-ui-older-{language}-720.png"))
        assert clipped_texts(unlocked) == [], language
    set_language("en")
    member.transport.close()
    member_profile.close()


def _save(qtbot: QtBot, form: OrganizationForm) -> None:
    button = form.buttons.button(QDialogButtonBox.StandardButton.Save)
    assert button is not None and button.isEnabled()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
