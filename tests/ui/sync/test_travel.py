"""Travel mode from the window, through a real server: choose two spaces, see the return key
once, then return with it (a wrong key is refused); screenshots in English and Arabic."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from desktop.domain.records import Incident, Space, SpaceKind, new_id
from desktop.domain.translation import set_language
from desktop.store.profile import KdfParameters, Profile, create_profile
from desktop.store.records import RecordQuery, RecordStore
from desktop.store.sync_state import ProfileSyncState
from desktop.store.travel import travelling
from desktop.ui.main_window import MainWindow
from desktop.ui.travel import TravelDialog
from sync.client.engine import SyncEngine
from sync.client.transport import Transport
from sync.protocol import Role
from tests.ui.conftest import PASSPHRASE, show_window, unlock_through_screen
from tests.ui.sync.conftest import Server

SHOTS = Path(os.environ.get("MINGA_SCREENSHOTS", "/tmp"))
NAMES = {"log": "Northern office incident log", "group": "Land defenders working group"}


def _engine(profile: Profile, url: str) -> SyncEngine:
    return SyncEngine(ProfileSyncState(profile.engine, profile.attachments), Transport(url))


def _member_of_three(server: Server, tmp_path: Path, folder: Path) -> dict[str, str]:
    """An admin's network and two more spaces; the profile in ``folder`` a member of all."""
    admin, _key = create_profile(tmp_path / "admin", PASSPHRASE, kdf=KdfParameters.fast_for_tests())
    traveller, _key = create_profile(folder, PASSPHRASE, kdf=KdfParameters.fast_for_tests())
    admin_engine, engine = _engine(admin, server.url), _engine(traveller, server.url)
    try:
        admin_engine.enroll(server.invite())
        spaces = {"network": admin_engine.create_space()}
        engine.enroll(admin_engine.invite(spaces["network"], Role.EDITOR))
        admin_engine.admit(spaces["network"], admin_engine.pending_members(spaces["network"]))
        me = engine.state.device_keys()
        assert me is not None
        records = RecordStore(admin.engine)
        records.save(
            Space(
                id=spaces["network"],
                space_id=spaces["network"],
                name="Network",
                kind=SpaceKind.NETWORK,
            )
        )
        for key, kind, owner in (
            ("log", SpaceKind.ORGANIZATION, "organization_id"),
            ("group", SpaceKind.WORKING_GROUP, "working_group_id"),
        ):
            space = admin_engine.create_space()
            spaces[key] = space
            records.save(
                Space(id=space, space_id=space, name=NAMES[key], kind=kind, **{owner: new_id()})
            )
            admin_engine.invite(space, Role.EDITOR)  # the role it admits with
            admin_engine._authorized(
                lambda token, s=space: admin_engine.transport.put_member(
                    s, me.device_id, Role.EDITOR, token
                )
            )
            admin_engine.admit(space, admin_engine.pending_members(space))
            records.save(Incident(space_id=space, title=f"Incident in {NAMES[key]}"))
        admin_engine.sync_once(discover=True)
        # The first sync settles the invite's commitment with the network's chain, the
        # second takes the other spaces'; the person compares the admin's fingerprint.
        engine.sync_once(discover=True)
        engine.sync_once(discover=True)
        for first in engine.spaces_to_confirm():
            engine.confirm_space(first.space)
        assert RecordStore(traveller.engine).count(RecordQuery("incident")) == 2
    finally:
        for closing in (admin_engine, engine):
            closing.transport.close()
        admin.close()
        traveller.close()
    return spaces


def _dialog(window: MainWindow, qtbot: QtBot) -> TravelDialog:
    window.travel_action.trigger()
    qtbot.waitUntil(lambda: window.travel_dialog is not None)
    dialog = window.travel_dialog
    assert isinstance(dialog, TravelDialog)
    return dialog


@pytest.mark.parametrize("language", ["en", "ar"])
def test_leave_two_spaces_and_return_from_the_window(
    app, qtbot: QtBot, server: Server, tmp_path: Path, folder: Path, language: str
) -> None:
    spaces = _member_of_three(server, tmp_path, folder)
    window = show_window(qtbot, folder)
    unlock_through_screen(qtbot, window)
    set_language(language)
    profile = window.session.profile
    assert profile is not None and window.sync is not None

    dialog = _dialog(window, qtbot)
    qtbot.waitUntil(lambda: dialog.space_list.count() == 3, timeout=10_000)
    assert not dialog.leave_button.isEnabled()  # nothing chosen for the person
    dialog.check_space(NAMES["log"])
    dialog.check_space(NAMES["group"])
    assert sorted(dialog.chosen()) == sorted([spaces["log"], spaces["group"]])
    dialog.resize(640, 520)
    dialog.grab().save(str(SHOTS / f"i16-travel-choose-{language}.png"))
    qtbot.mouseClick(dialog.leave_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.pages.currentWidget() is dialog.key_page, timeout=30_000)
    return_key = dialog.key_label.text()
    assert len(return_key.split("-")) == 11
    assert not dialog.done_button.isEnabled()
    dialog.grab().save(str(SHOTS / f"i16-travel-key-{language}.png"))
    dialog.written_down.setChecked(True)
    qtbot.mouseClick(dialog.done_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.travel_dialog is None)
    assert travelling(folder)
    store = RecordStore(profile.engine)
    assert store.count(RecordQuery("incident")) == 0
    assert store.get(spaces["log"]) is None and store.get(spaces["group"]) is None
    window.resize(1024, 680)
    window.grab().save(str(SHOTS / f"i16-travel-window-{language}.png"))

    # Return: a wrong key is refused with a clear message, the right one brings them back.
    dialog = _dialog(window, qtbot)
    assert dialog.pages.currentWidget() is dialog.return_page
    dialog.return_key.setText("AAAAA-BBBBB-CCCCC")
    qtbot.mouseClick(dialog.return_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.return_message.text() != "", timeout=10_000)
    if language == "en":
        assert "does not open what this computer left behind" in dialog.return_message.text()
    assert travelling(folder)
    dialog.grab().save(str(SHOTS / f"i16-travel-return-{language}.png"))
    dialog.return_key.setText(return_key.lower())  # typed as it comes
    qtbot.mouseClick(dialog.return_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.travel_dialog is None, timeout=30_000)
    assert not travelling(folder)
    qtbot.waitUntil(lambda: store.count(RecordQuery("incident")) == 2, timeout=30_000)
    set_language("en")


def test_everything_sent_is_said_as_good_news(
    app, qtbot: QtBot, server: Server, tmp_path: Path, folder: Path
) -> None:
    # "Send them first" with nothing left to send: "Everything was sent…" was shown in the red
    # style of a failure.
    _member_of_three(server, tmp_path, folder)
    window = show_window(qtbot, folder)
    unlock_through_screen(qtbot, window)
    dialog = _dialog(window, qtbot)
    qtbot.waitUntil(lambda: dialog.space_list.count() == 3, timeout=10_000)
    dialog.check_space(NAMES["log"])
    dialog.send_first()
    qtbot.waitUntil(lambda: dialog.choose_message.text() != "", timeout=30_000)
    assert dialog.choose_message.text().startswith("Everything was sent.")
    assert dialog.choose_message.property("role") == "success"
    dialog.reject()
