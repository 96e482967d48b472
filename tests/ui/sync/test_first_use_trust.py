"""Joining a network made by another administrator: the Sync page shows that administrator's
fingerprint to compare before trusting the network, with Confirm and "Does not match" (which
stops syncing the space and forgets its keys and members here), through a real server."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from desktop.domain.records import Space, SpaceKind
from desktop.store.records import RecordStore
from desktop.store.sync_state import ProfileSyncState
from desktop.ui.main_window import MainWindow
from desktop.ui.sync.page import SyncPage
from desktop.ui.sync.trust import TrustCard
from sync.client.engine import SyncEngine
from sync.client.transport import Transport
from sync.protocol import Role
from tests.helpers.profiles import new_profile
from tests.ui.sync.conftest import Server, join_through_page, sync_page


@dataclass
class Admin:
    engine: SyncEngine
    space: str
    fingerprint: str


@pytest.fixture
def admin(server: Server, tmp_path: Path) -> Iterator[Admin]:
    """Another computer that made the network's space and named it."""
    profile, _recovery = new_profile(tmp_path / "admin")
    engine = SyncEngine(ProfileSyncState(profile.engine), Transport(server.url))
    try:
        enrollment = engine.enroll(server.invite())
        space = engine.create_space()
        RecordStore(profile.engine).save(
            Space(id=space, space_id=space, name="Red del Sur", kind=SpaceKind.NETWORK)
        )
        engine.sync_once()
        yield Admin(engine, space, str(enrollment.fingerprint))
    finally:
        engine.transport.close()
        profile.close()


def join_and_see_card(qtbot: QtBot, window: MainWindow, admin: Admin, server: Server) -> SyncPage:
    page = sync_page(window, qtbot)
    join_through_page(qtbot, page, server.url, admin.engine.invite(admin.space, Role.EDITOR))
    qtbot.waitUntil(lambda: page.status_box.isVisibleTo(page), timeout=20_000)
    scheduler = window.sync
    assert scheduler is not None
    qtbot.waitUntil(
        lambda: not scheduler.busy and scheduler.last_report is not None, timeout=20_000
    )
    admin.engine.admit(admin.space, admin.engine.pending_members(admin.space))
    scheduler.sync_now()
    # Admitted, this sync brings the key and the space's name record; the card shows the name.
    qtbot.waitUntil(
        lambda: [c.space_name for c in page.findChildren(TrustCard)] == ["Red del Sur"],
        timeout=20_000,
    )
    qtbot.waitUntil(lambda: not scheduler.busy, timeout=20_000)
    return page


def test_the_admins_fingerprint_is_shown_until_the_person_confirms_it(
    unlocked: MainWindow, qtbot: QtBot, server: Server, admin: Admin
) -> None:
    page = join_and_see_card(qtbot, unlocked, admin, server)
    (card,) = page.findChildren(TrustCard)
    assert page.trust_box.isVisibleTo(page)
    # The digits the administrator reads from their own page, two lines of three groups.
    assert card.fingerprint.text().split() == admin.fingerprint.split()
    assert card.first.space == admin.space
    assert "Red del Sur" in card.warning.text()
    assert "Compare this fingerprint with the admin" in card.caption.text()

    # Every group is compared: Confirm stays off until all digits are typed, and a wrong one
    # keeps it off; digits may be typed in Eastern Arabic numerals.
    assert not card.confirm_button.isEnabled()
    digits = admin.fingerprint.replace(" ", "")
    wrong = digits[:-1] + str((int(digits[-1]) + 1) % 10)
    card.typed.setText(wrong)
    assert not card.confirm_button.isEnabled()
    card.typed.setText(digits[:25])
    assert not card.confirm_button.isEnabled()
    eastern = "".join(chr(0x0660 + int(d)) for d in digits)
    card.typed.setText(eastern)
    assert card.confirm_button.isEnabled()
    qtbot.mouseClick(card.confirm_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.findChildren(TrustCard) == [], timeout=10_000)
    assert "confirmed" in page.trust_message.text()
    profile = unlocked.session.profile
    assert profile is not None
    state = ProfileSyncState(profile.engine)
    assert state.spaces_to_confirm() == [] and state.spaces() == [admin.space]


def test_does_not_match_stops_syncing_the_space_and_forgets_its_keys(
    unlocked: MainWindow,
    qtbot: QtBot,
    server: Server,
    admin: Admin,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    page = join_and_see_card(qtbot, unlocked, admin, server)
    qtbot.waitUntil(lambda: page.network.spaces != [], timeout=10_000)
    (card,) = page.findChildren(TrustCard)
    asked: list[str] = []

    def answer_yes(*args: object) -> QMessageBox.StandardButton:
        asked.append(str(args[2]))
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", answer_yes)
    qtbot.mouseClick(card.refuse_button, Qt.MouseButton.LeftButton)
    assert asked and "Red del Sur" in asked[0]
    qtbot.waitUntil(lambda: page.findChildren(TrustCard) == [], timeout=10_000)
    assert "stopped syncing “Red del Sur”" in page.trust_message.text()
    assert page.trust_box.isVisibleTo(page)
    qtbot.waitUntil(lambda: page.network.spaces == [], timeout=10_000)

    profile = unlocked.session.profile
    assert profile is not None
    state = ProfileSyncState(profile.engine)
    assert (state.spaces(), state.wraps(), state.refused_spaces()) == ([], [], {admin.space})

    # Syncing again (discovering, as after a restart) does not take the space up again.
    scheduler = unlocked.sync
    assert scheduler is not None
    scheduler.link.run(lambda engine: engine.sync_once(discover=True))
    assert state.spaces() == [] and state.spaces_to_confirm() == []


@pytest.mark.parametrize(
    ("outcome", "tone"), [("confirmed", "success"), ("kept", "success"), ("refused", "error")]
)
def test_each_trust_outcome_is_styled_as_what_it_is(
    unlocked: MainWindow, qtbot: QtBot, outcome: str, tone: str
) -> None:
    # "“Red del Sur” is kept: its safety number matched an administrator's" is good news; it
    # was shown in the red style of a failure.
    page = sync_page(unlocked, qtbot)
    page._trust_outcome = (outcome, "Red del Sur")
    page._show_trust_outcome()
    assert "Red del Sur" in page.trust_message.text()
    assert page.trust_message.property("role") == tone
