"""Joining a network from the Sync page against a real server: clear words for a bad code or an
unreachable server, then the fingerprint, the admin's new space and the state after a sync."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from desktop.domain.records import Organization
from desktop.domain.translation import set_language
from desktop.store.records import RecordStore
from desktop.store.sync_state import ProfileSyncState
from desktop.ui.main_window import MainWindow
from desktop.ui.sync.scheduler import SyncPhase
from sync.protocol import Role
from tests.helpers.server_process import free_port
from tests.ui.sync.conftest import Server, join_as_admin, join_through_page, sync_page


def test_a_bad_code_and_an_unreachable_server_say_so_and_keep_nothing(
    unlocked: MainWindow, qtbot: QtBot, server: Server
) -> None:
    page = sync_page(unlocked, qtbot)
    assert page.join_box.isVisibleTo(page) and not page.status_box.isVisibleTo(page)
    assert unlocked.sync is not None
    qtbot.waitUntil(lambda: unlocked.sync.phase is SyncPhase.NOT_JOINED)  # type: ignore[union-attr]
    assert unlocked.status.sync_state.text().startswith("Not joined to a network")

    for code in ("AAAA-BBBB-CCCC-DDDD-EEEE-FFFF-GGGG-HHHH", "AAAA-BBBB"):  # unknown, malformed
        page.join_message.clear_message()
        join_through_page(qtbot, page, server.url, code)
        qtbot.waitUntil(lambda: "not valid" in page.join_message.text(), timeout=10_000)
    set_language("ar")  # the refusal is said again in the new language
    qtbot.waitUntil(lambda: page.join_message.text().startswith("رمز الدعوة هذا غير صالح"))
    set_language("en")
    join_through_page(qtbot, page, f"http://127.0.0.1:{free_port()}", server.invite())
    qtbot.waitUntil(lambda: "could not be reached" in page.join_message.text(), timeout=10_000)
    join_through_page(qtbot, page, "127.0.0.1:8000", "code")
    assert "https://" in page.join_message.text()
    profile = unlocked.session.profile
    assert profile is not None
    assert ProfileSyncState(profile.engine).device_keys() is None


def test_an_admin_joins_sees_the_fingerprint_and_the_sync_state(
    unlocked: MainWindow, qtbot: QtBot, server: Server
) -> None:
    page = join_as_admin(qtbot, unlocked, server)
    profile = unlocked.session.profile
    assert profile is not None
    keys = ProfileSyncState(profile.engine).device_keys()
    assert keys is not None
    shown = page.fingerprint.text().split()
    assert shown == list(keys.public.fingerprint.groups)
    assert not page.join_box.isVisibleTo(page)
    # The invite made this device the admin of a new space: it is ready, with us in it.
    (space,) = page.network.spaces
    assert space.my_role is Role.ADMIN
    assert [m.device for m in space.members] == [keys.device_id]
    assert page.network.invite_button.isEnabled()

    scheduler = unlocked.sync
    assert scheduler is not None and scheduler.phase is SyncPhase.UP_TO_DATE
    assert "Up to date" in unlocked.status.sync_state.text()
    assert "Last sync at" in unlocked.status.sync_state.text()

    # A local change: counted as waiting, then sent by "Sync now" and reported in words.
    RecordStore(profile.engine).save(Organization(space_id=space.space, name="Casa Abierta"))
    scheduler._read_counts()
    qtbot.waitUntil(lambda: scheduler.pending == 1, timeout=5_000)
    assert page.pending.text() == "1 change waiting to be sent"
    assert "1 change waiting to be sent" in unlocked.status.sync_state.text()
    scheduler._debounce.stop()
    page.sync_button.click()
    qtbot.waitUntil(lambda: scheduler.last_report.pushed == 1, timeout=10_000)  # type: ignore[union-attr]
    assert page.pending.text() == "Nothing waiting to be sent"
    lines = page.report.text().splitlines()
    assert lines[0] == "1 change sent"
    assert lines[1] == "0 changes received"
    assert lines[2].endswith("in 1 request")
    assert "waiting" not in unlocked.status.sync_state.text()
