"""Every threat or attack a new alert offers is readable in the narrowest side pane, in English
and Arabic: the chosen one wraps in its box, and the list of choices shows each one whole.

The side pane beside the alerts list can be dragged down to 320 px at 1024×680; there the box
was 263 px wide and "Restrictions on the organization (registration, funding)" needed 306 px
(Arabic: "العنف الجنسي أو القائم على النوع الاجتماعي", 222 px in 160), cut at its end.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import QModelIndex, QPoint, QRect, Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from desktop.domain.dates import PartialDate
from desktop.domain.network_records import Alert
from desktop.domain.records import Person, SpaceKind
from desktop.domain.translation import set_language
from desktop.store.records import RecordStore
from desktop.store.spaces import local_spaces
from desktop.ui.alerts.forms import AlertForm, SpaceChoice
from desktop.ui.list_page import DETAIL_MINIMUM_WIDTH, UpDownScroll
from desktop.ui.main_window import MainWindow
from tests.helpers.fit import clipped_texts


# Opening the list on the offscreen platform: it cannot raise a window or grab the keyboard.
@pytest.mark.qt_log_ignore("does not support raise", "does not support grabbing the keyboard")
@pytest.mark.parametrize("language", ["en", "ar"])
def test_every_threat_is_readable_in_the_narrowest_side_pane(
    app: QApplication, qtbot: QtBot, language: str
) -> None:
    set_language(language)
    scroll = UpDownScroll()
    qtbot.addWidget(scroll)
    if language == "ar":
        scroll.setLayoutDirection(Qt.LayoutDirection.RightToLeft)
    form = AlertForm([SpaceChoice("network", "Network", SpaceKind.NETWORK)], [], scroll)
    scroll.setWidget(form)
    scroll.resize(DETAIL_MINIMUM_WIDTH, 700)
    scroll.show()
    qtbot.waitExposed(scroll)
    threat = form.threat
    single = threat.fontMetrics().height()
    wrapped = 0
    for index in range(threat.count()):
        threat.setCurrentIndex(index)
        QApplication.processEvents()  # the form lays out the box's new height
        assert [str(item) for item in clipped_texts(scroll)] == [], threat.currentText()
        wider = threat.fontMetrics().horizontalAdvance(threat.currentText()) > threat.width()
        if wider:
            # More lines than one, and the box as tall as they are.
            wrapped += 1
            assert threat.height() >= threat.text_height(threat.width()) > single
    assert wrapped > 0  # the premise: some choices are wider than the box
    # The list of choices opens showing each choice whole.
    threat.showPopup()
    view = threat.view()
    qtbot.waitUntil(view.isVisible)
    for row in range(threat.count()):
        choice = view.model().index(row, 0, QModelIndex())
        assert view.sizeHintForIndex(choice).width() <= view.viewport().width(), choice.data()
        assert view.visualRect(choice).height() >= view.sizeHintForIndex(choice).height()
    threat.hidePopup()
    set_language("en")


@pytest.mark.parametrize("language", ["en", "ar"])
@pytest.mark.parametrize("size", [(1024, 680), (720, 520)], ids=["default", "minimum"])
def test_the_new_alert_form_fits_the_window_at_its_narrowest(
    unlocked: MainWindow, qtbot: QtBot, language: str, size: tuple[int, int]
) -> None:
    """In the window: at 1024×680 with the side pane dragged to its narrowest, and at the
    window's minimum size, where the list's and the detail's minimums (240 + 320 px) did not
    fit the 488 px left beside the navigation and the form was cut at its far edge."""
    set_language(language)
    unlocked.resize(*size)
    assert (unlocked.width(), unlocked.height()) == size
    workspace = unlocked.workspace
    assert workspace is not None
    # One alert listed: with none, the empty list steps aside for a form where it is cramped.
    profile = unlocked.session.profile
    assert profile is not None
    store = RecordStore(profile.engine)
    network = local_spaces(store).network.id
    person = store.save(Person(space_id=network, name="Rosa Gutiérrez", country="hn"))
    store.save(
        Alert(
            space_id=network,
            title="Amenazas a Rosa",
            defenders=(person.id,),
            threat_type="death_threat",
            occurred_on=PartialDate.parse("2025-06-01"),
            country="hn",
        )
    )
    workspace.show_section("alerts")
    alerts = workspace.page("alerts")
    alerts.model.refresh()  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: alerts.views.currentWidget() is alerts.table, timeout=10_000)  # type: ignore[attr-defined]
    alerts.new_alert()  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: alerts.form is not None, timeout=10_000)  # type: ignore[attr-defined]
    splitter = alerts.splitter  # type: ignore[attr-defined]
    splitter.setSizes([sum(splitter.sizes()), 0])  # the side pane as narrow as it goes
    qtbot.wait(200)  # the layout settles
    side = alerts.side  # type: ignore[attr-defined]
    assert side.width() == DETAIL_MINIMUM_WIDTH
    # The whole side pane is shown: none of it beyond the window's edge.
    where = QRect(side.mapTo(unlocked, QPoint(0, 0)), side.size())
    assert unlocked.rect().contains(where), (where, unlocked.rect())
    threat = alerts.form.threat  # type: ignore[attr-defined]
    for index in range(threat.count()):
        threat.setCurrentIndex(index)
        QApplication.processEvents()
        assert [str(item) for item in clipped_texts(unlocked)] == [], threat.currentText()
    unlocked.grab().save(f"/tmp/threat-{language}-{size[0]}.png")
    set_language("en")


@pytest.mark.parametrize("language", ["en", "fr"])
def test_the_longest_threat_chosen_first_shows_all_its_lines(
    unlocked: MainWindow, qtbot: QtBot, language: str
) -> None:
    """At 1024×680 with the side pane as it opens, the longest threat chosen before anything
    else moved: its box kept one line's height (25 px for 42) and the second line was cut, as
    the row holding it was not laid out again for its new height."""
    set_language(language)
    unlocked.resize(1024, 680)
    workspace = unlocked.workspace
    assert workspace is not None
    workspace.show_section("alerts")
    alerts = workspace.page("alerts")
    alerts.new_alert()  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: alerts.form is not None, timeout=10_000)  # type: ignore[attr-defined]
    qtbot.wait(200)  # the layout settles
    threat = alerts.form.threat  # type: ignore[attr-defined]
    metrics = threat.fontMetrics()
    longest = max(
        range(threat.count()), key=lambda i: metrics.horizontalAdvance(threat.itemText(i))
    )
    threat.setCurrentIndex(longest)
    qtbot.wait(200)
    assert threat.height() >= threat.text_height(threat.width()) > metrics.height()  # wrapped
    assert [str(item) for item in clipped_texts(unlocked)] == []
    unlocked.grab().save(f"/tmp/rev-ui-threat-first-{language}.png")
    set_language("en")


@pytest.mark.parametrize("language", ["es", "fr", "en", "ar"])
def test_at_the_minimum_size_a_new_first_alert_takes_the_empty_lists_width(
    unlocked: MainWindow, qtbot: QtBot, language: str
) -> None:
    """At 720×520 the list yields to 117 px beside the form; with no alert yet it only showed
    the empty state, whose text needed 378 px of height in 215 and whose button 156 px in 117
    (fr; es alike). With the form open there the empty state steps aside; it is back, whole,
    when the form is cancelled."""
    set_language(language)
    unlocked.resize(720, 520)
    workspace = unlocked.workspace
    assert workspace is not None
    workspace.show_section("alerts")
    alerts = workspace.page("alerts")
    qtbot.waitUntil(lambda: alerts.views.currentWidget() is alerts.empty)  # type: ignore[attr-defined]
    alerts.new_alert()  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: alerts.form is not None, timeout=10_000)  # type: ignore[attr-defined]
    qtbot.wait(200)  # the layout settles
    assert not alerts.empty.isVisible()  # type: ignore[attr-defined]
    assert alerts.side.width() > DETAIL_MINIMUM_WIDTH  # type: ignore[attr-defined]
    assert [str(item) for item in clipped_texts(unlocked)] == []
    unlocked.grab().save(f"/tmp/rev-ui-first-alert-{language}-720.png")
    alerts.form.cancelled.emit()  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: alerts.empty.isVisible())  # type: ignore[attr-defined]
    qtbot.wait(200)
    assert not alerts.side.isVisible()  # type: ignore[attr-defined]
    assert [str(item) for item in clipped_texts(unlocked)] == []
    set_language("en")
