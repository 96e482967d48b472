"""A desktop notification when an urgent alert arrives by sync, saying only "New urgent alert":
nothing of the alert (title, place, names) shows where a locked screen or a bystander could read
it. Alerts already here at unlock, written here, or not urgent are not announced."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from desktop.domain.dates import PartialDate
from desktop.domain.network_records import Alert, AlertUrgency
from desktop.domain.records import Person, mark_synced
from desktop.store.records import RecordStore
from desktop.store.spaces import local_spaces
from desktop.ui.main_window import MainWindow

WAIT = 5_000


def _alert(store: RecordStore, title: str, urgency: AlertUrgency, *, arrived: bool) -> Alert:
    space = local_spaces(store).network.id
    defender = store.save(Person(space_id=space, name="Rosa Quispe"))
    alert = Alert(
        space_id=space,
        title=title,
        defenders=(defender.id,),
        threat_type="death_threat",
        country="co",
        occurred_on=PartialDate(2025, 6, 1),
        urgency=urgency,
        place="Vereda El Porvenir",
    )
    # Arrived by sync: stored as the server's version, not waiting to be sent from here.
    store.save(mark_synced(alert, 4) if arrived else alert)
    return alert


def test_an_urgent_alert_arriving_by_sync_is_announced_without_its_content(
    app: QApplication, qtbot: QtBot, unlocked: MainWindow
) -> None:
    window = unlocked
    profile = window.session.profile
    assert profile is not None and window.sync is not None and window.urgent_watch is not None
    store = RecordStore(profile.engine)
    shown: list[str] = []
    window.notifier.notified.connect(shown.append)
    qtbot.wait(300)  # the alerts already here are read first

    _alert(store, "Amenazas contra Rosa Quispe", AlertUrgency.IMMEDIATE, arrived=True)
    window.sync.synced.emit(None)
    qtbot.waitUntil(lambda: shown == ["New urgent alert"], timeout=WAIT)

    # Written here, not urgent, or already announced: nothing more.
    _alert(store, "Borrador local", AlertUrgency.IMMEDIATE, arrived=False)
    _alert(store, "Seguimiento", AlertUrgency.HIGH, arrived=True)
    window.sync.synced.emit(None)
    qtbot.wait(500)
    assert shown == ["New urgent alert"]
    assert not any("Rosa" in text or "Porvenir" in text for text in shown)


def test_urgent_alerts_already_here_at_unlock_are_not_news(
    app: QApplication, qtbot: QtBot, unlocked: MainWindow
) -> None:
    profile = unlocked.session.profile
    assert profile is not None
    store = RecordStore(profile.engine)
    _alert(store, "Ya conocida", AlertUrgency.IMMEDIATE, arrived=True)
    unlocked.lock()
    qtbot.waitUntil(lambda: not unlocked.is_unlocked, timeout=WAIT)
    from .conftest import unlock_through_screen

    unlock_through_screen(qtbot, unlocked)
    shown: list[str] = []
    unlocked.notifier.notified.connect(shown.append)
    qtbot.wait(300)
    assert unlocked.sync is not None
    unlocked.sync.synced.emit(None)
    qtbot.wait(500)
    assert shown == []
