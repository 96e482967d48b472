"""The scheduler against a real server: saves are coalesced into one sync, failures back off
exponentially up to a cap and a success resets it, reconnection syncs, and lock stops it all."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from desktop.domain.records import Organization
from desktop.store.profile import Profile
from desktop.store.records import RecordStore
from desktop.ui.jobs import shutdown_jobs
from desktop.ui.main_window import MainWindow
from desktop.ui.sync.link import SyncLink
from desktop.ui.sync.network import join_network
from desktop.ui.sync.scheduler import SyncPhase, SyncScheduler
from tests.helpers import server_process
from tests.helpers.hostile_server import HostileServer
from tests.helpers.profiles import new_profile
from tests.ui.sync.conftest import Server, join_as_admin, join_through_page, sync_page

MINUTE = 60_000


@pytest.fixture
def profile(tmp_path: Path) -> Iterator[Profile]:
    opened, _recovery = new_profile(tmp_path / "profile")
    yield opened
    opened.close()


def enrolled_scheduler(
    qtbot: QtBot, app: QApplication, profile: Profile, server: Server
) -> SyncScheduler:
    link = SyncLink(profile, {})
    link.run(lambda engine: engine.enroll(server.invite()), server_url=server.url)
    # jitter 0.5 puts every delay exactly on its base, so the policy can be read off.
    scheduler = SyncScheduler(link, 5 * MINUTE, jitter=lambda: 0.5)
    scheduler.DEBOUNCE_MS = 80
    scheduler.start()
    qtbot.waitUntil(lambda: scheduler.phase is SyncPhase.UP_TO_DATE, timeout=10_000)
    return scheduler


def test_a_burst_of_saves_makes_one_sync(
    app: QApplication, qtbot: QtBot, profile: Profile, server: Server
) -> None:
    scheduler = enrolled_scheduler(qtbot, app, profile, server)
    try:
        before = scheduler.syncs_started
        for _ in range(5):
            scheduler.note_local_change()
            qtbot.wait(20)  # each save comes before the quiet period ends
        assert scheduler.syncs_started == before
        with qtbot.waitSignal(scheduler.synced, timeout=5_000):
            pass
        qtbot.wait(200)  # well past another debounce period: nothing more starts
        assert scheduler.syncs_started == before + 1
        assert scheduler.next_delay_ms == 5 * MINUTE
    finally:
        scheduler.stop()
        scheduler.link.close()


def test_a_save_in_a_shared_space_is_sent_shortly_after(
    app: QApplication, qtbot: QtBot, profile: Profile, server: Server
) -> None:
    link = SyncLink(profile, {})
    join_network(link, server.url, server.invite("--new-space"))
    (space,) = link.state.spaces()
    scheduler = SyncScheduler(link, 5 * MINUTE)
    scheduler.DIRTY_POLL_MS, scheduler.DEBOUNCE_MS = 50, 100
    try:
        scheduler.start()
        qtbot.waitUntil(lambda: scheduler.phase is SyncPhase.UP_TO_DATE, timeout=10_000)
        started = scheduler.syncs_started
        # Saved the way any page saves: straight into the store, no call to the scheduler.
        RecordStore(profile.engine).save(Organization(space_id=space, name="Radio Comunitaria"))
        qtbot.waitUntil(lambda: scheduler.syncs_started == started + 1, timeout=5_000)
        qtbot.waitUntil(lambda: not scheduler.busy, timeout=10_000)
        assert scheduler.last_report is not None and scheduler.last_report.pushed == 1
        assert scheduler.pending == 0
    finally:
        scheduler.stop()
        link.close()


def test_failures_back_off_to_a_cap_and_success_resets(
    app: QApplication,
    qtbot: QtBot,
    profile: Profile,
    server: Server,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scheduler = enrolled_scheduler(qtbot, app, profile, server)
    try:
        server.process.stop()
        delays = []
        for attempt in range(1, 7):
            scheduler.sync_now()
            qtbot.waitUntil(lambda n=attempt: scheduler.failures == n, timeout=10_000)  # type: ignore[misc]
            assert scheduler.phase is SyncPhase.OFFLINE
            delays.append(scheduler.next_delay_ms)
        assert delays == [30_000, 60_000, 120_000, 240_000, 480_000, 900_000]
        assert "Server unreachable" in scheduler_status(scheduler)

        # The same server comes back on the same port; a reconnection triggers a sync at once.
        port = server.process.port
        monkeypatch.setattr(server_process, "free_port", lambda: port)
        server.process = server_process.start_server(server.data_dir)
        with qtbot.waitSignal(scheduler.synced, timeout=10_000):
            scheduler.network_changed(True)
        assert scheduler.failures == 0 and scheduler.phase is SyncPhase.UP_TO_DATE
        assert scheduler.next_delay_ms == 5 * MINUTE
    finally:
        scheduler.stop()
        scheduler.link.close()


def test_jitter_spreads_the_wait_by_a_fifth_either_way(profile: Profile) -> None:
    low = SyncScheduler(SyncLink(profile, {}), MINUTE, jitter=lambda: 0.0)
    high = SyncScheduler(SyncLink(profile, {}), MINUTE, jitter=lambda: 1.0)
    assert (low.delay_ms(), high.delay_ms()) == (48_000, 72_000)
    high.failures = 30  # far past the cap: the wait never exceeds fifteen minutes
    assert high.delay_ms() == SyncScheduler.MAX_BACKOFF_MS


def test_locking_stops_the_scheduler(unlocked: MainWindow, qtbot: QtBot, server: Server) -> None:
    join_as_admin(qtbot, unlocked, server)
    scheduler = unlocked.sync
    assert scheduler is not None and scheduler.running and scheduler.next_delay_ms > 0
    assert unlocked.status.sync_state.isVisibleTo(unlocked.status)
    unlocked.lock()
    assert not scheduler.running and scheduler.next_delay_ms == 0
    assert unlocked.sync is None
    assert not unlocked.status.sync_state.isVisibleTo(unlocked.status)
    started = scheduler.syncs_started
    scheduler.sync_now()
    scheduler.note_local_change()
    assert scheduler.syncs_started == started


def test_locking_ends_a_sync_waiting_out_a_busy_server(
    unlocked: MainWindow, qtbot: QtBot, server: Server
) -> None:
    """A server answering 429 with Retry-After 20, again and again, keeps a sync waiting for
    minutes; lock (and quit, which locks) must not wait for it: the link lets go at once and
    nothing more is sent."""
    with HostileServer(server.url) as hostile:
        page = sync_page(unlocked, qtbot)
        join_through_page(qtbot, page, hostile.url, server.invite("--new-space"))
        scheduler = unlocked.sync
        assert scheduler is not None
        qtbot.waitUntil(
            lambda: not scheduler.busy and scheduler.last_report is not None, timeout=20_000
        )
        hostile.busy["/v1/sync"] = ["20"] * 10
        scheduler.sync_now()
        qtbot.waitUntil(lambda: hostile.refused_busy == 1, timeout=10_000)
        link = scheduler.link
        unlocked.lock()
        # Closing the link waits for the sync: it must not sit through four 20 s waits.
        qtbot.waitUntil(lambda: link._engine is None, timeout=10_000)
        assert hostile.refused_busy == 1


def test_quitting_does_not_wait_out_a_busy_server(
    unlocked: MainWindow, qtbot: QtBot, server: Server
) -> None:
    """Ctrl+C, a polite kill or the session's logout quit the application: the job pools are
    shut down (waiting for the jobs running) before the window locks. A sync waiting out a
    429 then held the quit for up to four 25 s waits (a logout kills the app after 90 s)."""
    with HostileServer(server.url) as hostile:
        page = sync_page(unlocked, qtbot)
        join_through_page(qtbot, page, hostile.url, server.invite("--new-space"))
        scheduler = unlocked.sync
        assert scheduler is not None
        qtbot.waitUntil(
            lambda: not scheduler.busy and scheduler.last_report is not None, timeout=20_000
        )
        hostile.busy["/v1/sync"] = ["20"] * 10
        scheduler.sync_now()
        qtbot.waitUntil(lambda: hostile.refused_busy == 1, timeout=10_000)
        shutdown_jobs()  # what aboutToQuit runs first; it returns once the sync has ended
        assert hostile.refused_busy == 1


def scheduler_status(scheduler: SyncScheduler) -> str:
    from desktop.ui.sync.texts import phase_text

    return phase_text(scheduler)
