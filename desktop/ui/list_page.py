"""The page shape every list section shares: heading, count and actions; filters; the lazy list
with the chosen record beside it; what to do when the list is empty.

Incidents, Alerts, Directory and Working groups are each one of these with their own list
declaration, filters and detail. The splitter keeps both sides usable at 1024×680: neither
collapses, and each keeps a minimum width.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLayout,
    QPushButton,
    QScrollArea,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy.exc import DBAPIError

from desktop.domain.translation import _, format_number, ngettext
from desktop.store.readable_export import ReadableExport, export_readable
from desktop.store.records import DamagedRows, is_damage
from desktop.ui.forms import MessageLabel, failure_message, heading, paragraph
from desktop.ui.jobs import run_job
from desktop.ui.lists import ListTable, RecordListModel

#: The narrowest a list or a detail may be squeezed to by the splitter.
LIST_MINIMUM_WIDTH = 240
DETAIL_MINIMUM_WIDTH = 320
#: How narrow the list may become when the window is too narrow for both minimums (at its
#: minimum size, 720 px): the list yields, and scrolls sideways, so the detail keeps its width.
LIST_FLOOR_WIDTH = 120
#: The page message's ``source`` for what the list itself says (a read failed, damaged pages):
#: the list's next count takes back only that, not what an open or an export said meanwhile.
LIST_SOURCE = "list"


class EmptyList(QWidget):
    """What a list shows when it has nothing: a title, what to do next, and the buttons to do it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        column = QWidget(self)
        column.setMaximumWidth(560)
        self.title = heading(column)
        self.title.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self.text = paragraph(column)
        self.text.setProperty("role", "empty")
        self.text.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self.buttons = QHBoxLayout()
        self.buttons.addStretch(1)
        self.buttons.addStretch(1)
        inner = QVBoxLayout(column)
        inner.addWidget(self.title)
        inner.addSpacing(8)
        inner.addWidget(self.text)
        inner.addSpacing(12)
        inner.addLayout(self.buttons)
        row = QHBoxLayout()
        # Centred up to its 560 px, the whole width below that: at the window's minimum size the
        # list is 150 px wide, and two thirds of it wrapped the text past the list's height.
        row.addStretch(1)
        row.addWidget(column, 100)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addLayout(row)
        layout.addStretch(2)

    def add_button(self, button: QWidget) -> None:
        self.buttons.insertWidget(self.buttons.count() - 1, button)


class UpDownScroll(QScrollArea):
    """Scrolls up and down only: its content always has the width shown (laid out within it,
    as outside a scroll area) and the height it needs, so nothing is cut at the right edge."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(False)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

    def setWidget(self, widget: QWidget) -> None:
        super().setWidget(widget)
        widget.installEventFilter(self)  # its needs change with the chart and the language
        self._fit()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.widget() and event.type() == QEvent.Type.LayoutRequest:
            # With the area as context: a fit still queued when the area goes is dropped.
            QTimer.singleShot(0, self, self._fit)
        return super().eventFilter(watched, event)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        widget = self.widget()
        if widget is None:
            return
        width = self.viewport().width()
        layout = widget.layout()
        needed = widget.minimumSizeHint().height()
        if layout is not None and layout.hasHeightForWidth():
            needed = max(needed, layout.totalHeightForWidth(width))
        widget.resize(width, max(self.viewport().height(), needed))


class ListDetailPage(QWidget):
    """A section's list page. Subclasses fill in the words (``retranslate``), the actions, the
    filters and the detail; the page switches between the list, "nothing yet" and "nothing
    matches" as counts arrive.
    """

    def __init__(
        self,
        model: RecordListModel,
        parent: QWidget | None = None,
        *,
        detail: bool = True,
        share: float = 0.35,
        stretch: tuple[int, int] = (2, 3),
    ) -> None:
        super().__init__(parent)
        self.model = model
        model.setParent(self)
        self.heading = heading(self)
        self.count_label = QLabel(self)
        self.count_label.setProperty("role", "hint")
        self.message = MessageLabel(self)
        # A damaged profile (issue 12): take out everything still readable, of every type.
        self.export_readable_button = QPushButton(self)
        self.export_readable_button.clicked.connect(self.choose_readable_export_path)
        self.export_readable_button.hide()
        self.table = ListTable(self, share=share)
        self.table.setModel(model)
        self.empty = EmptyList(self)
        self.no_matches = paragraph(self)
        self.no_matches.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.no_matches.setProperty("role", "empty")
        self.views = QStackedWidget(self)
        for view in (self.table, self.empty, self.no_matches):
            self.views.addWidget(view)
        model.counted.connect(self._counted)
        model.failed.connect(self._read_failed)
        # A damaged profile (issue 12): once a read had to go past damaged pages, say so.
        model.arrived.connect(self._say_if_damaged)

        self.top = QHBoxLayout()
        # The heading takes the free width: squeezed by a stretch, it wrapped onto two lines.
        self.top.addWidget(self.heading, 1)
        self.top.addWidget(self.count_label, 0, Qt.AlignmentFlag.AlignBottom)
        self.filter_area = QVBoxLayout()
        self.filter_area.setContentsMargins(0, 0, 0, 0)
        layout = QVBoxLayout(self)
        # Shown alone (tests, screenshots) the page is a window: never let a longer record or
        # translation re-constrain it, which offscreen platforms warn about.
        layout.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.addLayout(self.top)
        layout.addLayout(self.filter_area)
        damage_row = QHBoxLayout()
        damage_row.addWidget(self.message, 1)
        damage_row.addWidget(self.export_readable_button, 0, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(damage_row)
        self.side: QStackedWidget | None = None
        self.splitter: QSplitter | None = None
        if detail:
            self.side = QStackedWidget(self)
            self.side.setMinimumWidth(DETAIL_MINIMUM_WIDTH)
            self.placeholder = paragraph(self.side)
            self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
            self.side.addWidget(self.placeholder)
            self.views.setMinimumWidth(LIST_MINIMUM_WIDTH)
            self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
            self.splitter.setChildrenCollapsible(False)
            self.splitter.addWidget(self.views)
            self.splitter.addWidget(self.side)
            self.splitter.setStretchFactor(0, stretch[0])
            self.splitter.setStretchFactor(1, stretch[1])
            # The stretch's shares whatever widths the contents ask for: left to size hints,
            # the Arabic alert list took two thirds and clipped the alert's choosers.
            self.splitter.setSizes([stretch[0] * 1_000, stretch[1] * 1_000])
            layout.addWidget(self.splitter, 1)
        else:
            layout.addWidget(self.views, 1)

    @property
    def view(self) -> ListTable:
        return self.table

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._share_width()

    def _share_width(self) -> None:
        """The list's minimum, so that it and the detail's fit the page: at the window's minimum
        size the two minimums did not (240 + 320 px in 488), and the detail, wider than what
        was shown of it, was cut at its far edge (the new alert form's fields, in en and ar)."""
        layout = self.layout()
        if self.splitter is None or layout is None:
            return
        margins = layout.contentsMargins()
        room = self.width() - margins.left() - margins.right() - self.splitter.handleWidth()
        fitting = min(LIST_MINIMUM_WIDTH, room - DETAIL_MINIMUM_WIDTH)
        self.views.setMinimumWidth(max(LIST_FLOOR_WIDTH, fitting))
        self._fit_side()

    def _cramped(self) -> bool:
        """Too narrow for the list's and the detail's minimums side by side (the list yields)."""
        return self.views.minimumWidth() < LIST_MINIMUM_WIDTH

    def add_action(self, widget: QWidget) -> None:
        """A button of the page's top row (after the heading and the count)."""
        self.top.addWidget(widget)

    # --- the list -------------------------------------------------------------------------------

    def filtering(self) -> bool:
        """Whether the person narrowed the list (then "nothing matches", not "nothing yet")."""
        return False

    def count_text(self, total: int) -> str:
        return ""

    def _counted(self, total: int) -> None:
        # Only what the list said: the count arriving after a record failed to open wiped the
        # failure (a damaged profile's page lost "the profile is damaged").
        self.message.withdraw(LIST_SOURCE)
        self._say_if_damaged()
        if total:
            self.views.setCurrentWidget(self.table)
        elif self.filtering():
            self.views.setCurrentWidget(self.no_matches)
        else:
            self.views.setCurrentWidget(self.empty)
        self._fit_side()
        self.show_count()

    def _fit_side(self) -> None:
        """With nothing listed and nothing open, the empty state takes the whole width: beside
        "Choose an alert to see…" it wrapped word by word in a narrow column. With nothing listed
        and a form open where the page is cramped, the form takes it: at 720x520 the empty state
        had 117 px, its text needed 378 px of height in 215 and its button 156 px in 117 (fr,
        es), while it only said what the open form is for."""
        if self.side is None:
            return
        empty = self.views.currentWidget() is self.empty
        alone = empty and self.side.currentWidget() is self.placeholder
        self.side.setVisible(not alone)
        self.views.setVisible(not (empty and not alone and self._cramped()))

    def show_count(self) -> None:
        total = self.model.total
        self.count_label.setText("" if total is None else self.count_text(total))

    def _say_if_damaged(self, _loaded: int = 0) -> None:
        unreadable = self.model.unreadable
        self.export_readable_button.setVisible(bool(unreadable))
        if unreadable:
            self.message.say(
                DamagedRows().user_message()
                + " "
                + ngettext(
                    "{count} record could not be read.",
                    "{count} records could not be read.",
                    unreadable,
                ).format(count=format_number(unreadable)),
                source=LIST_SOURCE,
            )

    def choose_readable_export_path(self) -> None:
        # Qt's own dialog (leave_no_traces sets it application-wide): a native one would
        # name the file in the desktop's recent-documents list, outside the profile.
        path, _chosen = QFileDialog.getSaveFileName(
            self,
            _("Export what can be read"),
            "minga-readable-records.json",
            _("JSON files (*.json)"),
            options=QFileDialog.Option.DontUseNativeDialog,
        )
        if path:
            self.export_readable_to(Path(path))

    def export_readable_to(self, path: Path) -> None:
        """Write every readable record of the profile to ``path`` on a worker, then say how
        many were written and how many could not be read."""
        engine = self.model.store.engine
        self.export_readable_button.setEnabled(False)

        def done(result: ReadableExport) -> None:
            self.export_readable_button.setEnabled(True)
            written = ngettext(
                "{written} record exported", "{written} records exported", result.written
            ).format(written=format_number(result.written))
            lost = ngettext(
                "{lost} could not be read", "{lost} could not be read", result.lost
            ).format(lost=format_number(result.lost))
            self.message.say(
                _("{written}; {lost}.").format(written=written, lost=lost),
                "success",
            )

        def failed(error: BaseException) -> None:
            self.export_readable_button.setEnabled(True)
            if isinstance(error, OSError):
                self.message.say(
                    _("The file could not be written: {reason}").format(
                        reason=error.strerror or str(error)
                    )
                )
            else:
                self.message.say(failure_message(error))

        run_job(
            self,
            lambda _state: export_readable(engine, path),
            on_success=done,
            on_failure=failed,
        )

    def _read_failed(self, error: BaseException) -> None:
        if self.closing():
            return  # locking: the page is about to go
        # Damage is lasting: a count that succeeds later does not mend it, so the list does not
        # take it back. A full run met this order: a record's open said the profile is damaged,
        # the list's re-read met the damaged page and said it again as its own, and its count
        # then cleared it (the page said nothing of the damage).
        damage = isinstance(error, DamagedRows) or (
            isinstance(error, DBAPIError) and is_damage(error)
        )
        self.message.say(failure_message(error), source=None if damage else LIST_SOURCE)

    def closing(self) -> bool:
        return False

    # --- the detail -----------------------------------------------------------------------------

    def show_detail(self, widget: QWidget, *, keep: tuple[QWidget, ...] = ()) -> None:
        """Show ``widget`` beside the list; the detail shown before goes (unless in ``keep``)."""
        assert self.side is not None
        for index in reversed(range(1, self.side.count())):
            old = self.side.widget(index)
            if old is not widget and old not in keep:
                self.side.removeWidget(old)
                old.deleteLater()
        if self.side.indexOf(widget) < 0:
            self.side.addWidget(widget)
        self.side.setCurrentWidget(widget)
        self._fit_side()

    def show_placeholder(self) -> None:
        if self.side is not None:
            self.side.setCurrentWidget(self.placeholder)
            self._fit_side()

    # --- language -------------------------------------------------------------------------------

    def retranslate(self) -> None:
        self.export_readable_button.setText(_("Export what can be read…"))
        self.model.retranslate()
        self.show_count()
        self.table.fit_columns()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)
