"""The incidents filter bar: search text (debounced), kind, status, country, right, date range.

Each change becomes a new ``RecordQuery``, run in SQL; nothing is filtered in Python.
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import QEvent, QSignalBlocker, QTimer, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QLineEdit, QPushButton, QWidget

from desktop.domain import vocabularies as vocab
from desktop.domain.dates import InvalidDate, PartialDate
from desktop.domain.translation import N_, _, current_language
from desktop.domain.vocabularies import default_vocabularies
from desktop.store.records import RecordQuery
from desktop.ui.flow import FlowLayout
from desktop.ui.forms import fit_combo_to_text, keep_combo_fitted
from desktop.ui.incidents.fields import PartialDateEdit, VocabularyCombo

#: How long typing pauses before the search runs: one query per word, not per key.
SEARCH_DELAY_MS = 250


class RightCombo(QComboBox):
    """Any right, or one right or sub-right (sub-rights indented under their right)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(14)
        self._fill()

    def _fill(self) -> None:
        code = self.code()
        rights = default_vocabularies()[vocab.RIGHTS]
        language = current_language()
        with QSignalBlocker(self):
            self.clear()
            self.addItem(_("Any right"), "")
            for term in rights.top_level():
                self.addItem(term.label(language), term.code)
                for child in rights.children(term.code):
                    self.addItem("    " + child.label(language), child.code)
            self.setCurrentIndex(max(self.findData(code), 0))

    def code(self) -> str:
        data = self.currentData()
        return data if isinstance(data, str) else ""

    def set_code(self, code: str) -> None:
        self.setCurrentIndex(max(self.findData(code), 0))

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self._fill()
        super().changeEvent(event)


class FilterBar(QWidget):
    """Search and filters above the incidents list.

    Signals:
        query_changed(object): the new :class:`RecordQuery` (order kept from the last one).
    """

    query_changed = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._base = RecordQuery("incident", order_by="date_from", descending=True)
        self.search = QLineEdit(self)
        self.search.setObjectName("incidentSearch")
        self.search.setClearButtonEnabled(True)
        self.kind = VocabularyCombo(vocab.INCIDENT_KINDS, none_label=N_("Any kind"), parent=self)
        self.status = VocabularyCombo(
            vocab.INCIDENT_STATUSES, none_label=N_("Any status"), parent=self
        )
        self.country = VocabularyCombo(
            vocab.COUNTRIES, none_label=N_("Any country"), by_label=True, parent=self
        )
        self.right = RightCombo(self)
        self.date_from = PartialDateEdit(self, placeholder=N_("From"))
        self.date_to = PartialDateEdit(self, placeholder=N_("Until"))
        # Wide enough for a whole day, 2024-03-15, and no wider.
        width = self.date_from.fontMetrics().horizontalAdvance("0000-00-00") + 24
        for field in (self.date_from, self.date_to):
            field.setFixedWidth(width)
        self.dates_label = QLabel(self)
        self.dates_label.setBuddy(self.date_from)
        self.date_separator = QLabel("–", self)
        self.clear_button = QPushButton(self)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SEARCH_DELAY_MS)
        self._timer.timeout.connect(self.apply)
        self.search.textChanged.connect(lambda _text: self._timer.start())
        for combo in (self.kind, self.status, self.country, self.right):
            combo.currentIndexChanged.connect(lambda _index: self.apply())
        for field in (self.date_from, self.date_to):
            field.editingFinished.connect(self.apply)
        self.clear_button.clicked.connect(self.clear_filters)

        # The dates read as one phrase ("Between … – …") and wrap as one.
        self.dates = QWidget(self)
        dates = QHBoxLayout(self.dates)
        dates.setContentsMargins(0, 0, 0, 0)
        for widget in (self.dates_label, self.date_from, self.date_separator, self.date_to):
            widget.setParent(self.dates)
            dates.addWidget(widget)
        # Wraps rather than squeezes: at 1024×680 in French the filters take two lines.
        layout = FlowLayout(self)
        layout.add_widget(self.search, stretch=True)
        for combo in (self.kind, self.status, self.country, self.right):
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            combo.setMinimumContentsLength(0)
            keep_combo_fitted(combo)
            layout.add_widget(combo)
        layout.add_widget(self.dates)
        layout.add_widget(self.clear_button)
        self.retranslate()

    def query(self) -> RecordQuery:
        """The filters as a query; a date that cannot be read is left out and marked."""
        first = self._bound(self.date_from)
        last = self._bound(self.date_to)
        right = self.right.code()
        return replace(
            self._base,
            text=self.search.text(),
            kinds=[self.kind.code()] if self.kind.code() else [],
            statuses=[self.status.code()] if self.status.code() else [],
            countries=[self.country.code()] if self.country.code() else [],
            codes={"rights": [right]} if right else {},
            date_from=first.earliest if first is not None else None,
            date_to=last.latest if last is not None else None,
        )

    def _bound(self, field: PartialDateEdit) -> PartialDate | None:
        try:
            value = field.value()
        except InvalidDate as error:
            field.setProperty("invalid", True)
            field.setToolTip(error.message)
            return None
        field.setProperty("invalid", False)
        field.retranslate()
        return value

    def apply(self) -> None:
        self._timer.stop()
        self.query_changed.emit(self.query())

    def clear_filters(self) -> None:
        blockers = [
            QSignalBlocker(w)
            for w in (
                self.search,
                self.kind,
                self.status,
                self.country,
                self.right,
                self.date_from,
                self.date_to,
            )
        ]
        self.search.clear()
        for combo in (self.kind, self.status, self.country):
            combo.set_code("")
        self.right.set_code("")
        self.date_from.clear()
        self.date_to.clear()
        del blockers
        self.apply()

    @property
    def filtering(self) -> bool:
        query = self.query()
        return bool(
            query.text.strip()
            or query.kinds
            or query.statuses
            or query.countries
            or query.codes
            or query.date_from
            or query.date_to
        )

    def retranslate(self) -> None:
        self.search.setPlaceholderText(_("Search titles, places, narratives…"))
        self.search.setAccessibleName(_("Search incidents"))
        self.kind.setAccessibleName(_("Kind"))
        self.status.setAccessibleName(_("Status"))
        self.country.setAccessibleName(_("Country"))
        self.right.setAccessibleName(_("Right affected"))
        self.dates_label.setText(_("Between"))
        self.date_from.setAccessibleName(_("From"))
        self.date_to.setAccessibleName(_("Until"))
        self.clear_button.setText(_("Clear filters"))
        # Wide enough for the whole placeholder, and never less than a usable box.
        metrics = self.search.fontMetrics()
        self.search.setMinimumWidth(
            max(240, metrics.horizontalAdvance(self.search.placeholderText()) + 60)
        )
        # The combo boxes refill in the new language on their own event, maybe after this one.
        QTimer.singleShot(0, self, self._fit_combos)

    def _fit_combos(self) -> None:
        for combo in (self.kind, self.status, self.country, self.right):
            fit_combo_to_text(combo)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)
