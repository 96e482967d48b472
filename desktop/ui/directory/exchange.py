"""Import organizations or people from CSV and export a list to CSV or JSON, on workers.

An import ends in a report of every row left out and why; an export never leaves half a file.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QEvent, QRect, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QStyleOptionViewItem,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.domain.translation import _, format_number, ngettext
from desktop.store.exchange import (
    ImportReport,
    export_csv,
    export_json,
    import_organizations_csv,
    import_people_csv,
    read_import_file,
)
from desktop.store.profile import Profile
from desktop.store.records import RecordQuery, RecordStore
from desktop.ui.forms import hold_window_size_hints, paragraph

EXPORT_FORMATS = ("csv", "json")


def import_file(profile: Profile, record_type: str, path: Path, space_id: str) -> ImportReport:
    """Read and import ``path`` (runs on the write worker); raises ``MalformedFile``."""
    raw = read_import_file(path)
    store = RecordStore(profile.engine)
    if record_type == "organization":
        return import_organizations_csv(store, raw, space_id)
    return import_people_csv(store, raw, space_id)


def export_file(profile: Profile, query: RecordQuery, path: Path, file_format: str) -> int:
    """Write ``query``'s records to ``path``; a partial file is removed, never left behind."""
    store = RecordStore(profile.engine)
    partial = path.with_name(path.name + ".part")
    try:
        with partial.open("w", encoding="utf-8", newline="") as sink:
            write = export_csv if file_format == "csv" else export_json
            count = write(store, query, sink)
            sink.flush()
            os.fsync(sink.fileno())
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return count


def imported_text(record_type: str, count: int) -> str:
    if record_type == "organization":
        text = ngettext(
            "{count} organization was imported.", "{count} organizations were imported.", count
        )
    else:
        text = ngettext(
            "{count} person or group was imported.",
            "{count} people or groups were imported.",
            count,
        )
    return text.format(count=format_number(count))


def sound_text(count: int) -> str:
    """What becomes of the rows that were fine when others were not."""
    return ngettext(
        "The other {count} row is fine: it will be imported with the corrected file.",
        "The other {count} rows are fine: they will be imported with the corrected file.",
        count,
    ).format(count=format_number(count))


class ReasonsTable(QTableWidget):
    """Each left-out row beside its reasons, every row as tall as its reasons wrapped at the
    reasons column's width, measured again the moment that width changes.

    Not ``resizeRowsToContents`` queued after the header resized, as before: a check (or a
    paint) that came before the queued call saw a row measured at an older, wider column, one
    line tall for a reason that wraps into two (Arabic, in the full suite under load). Here
    the rows are measured in the same call that changed the column's width.
    """

    REASONS = 1

    def __init__(self, rows: int, parent: QWidget | None = None) -> None:
        super().__init__(rows, 2, parent)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.verticalHeader().hide()
        self.setWordWrap(True)
        header = self.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(self.REASONS, QHeaderView.ResizeMode.Stretch)
        header.sectionResized.connect(self._column_resized)

    def _column_resized(self, column: int, _old: int, new: int) -> None:
        # The new width from the signal: while the header is still resizing its sections,
        # ``columnWidth`` answers the old one.
        if column == self.REASONS:
            self.fit_rows(reasons_width=new)

    def fit_rows(self, reasons_width: int | None = None) -> None:
        """Each row as tall as the taller of its cells, the reasons wrapped at
        ``reasons_width`` (by default the column's present width)."""
        widths = [self.columnWidth(column) for column in range(self.columnCount())]
        if reasons_width is not None:
            widths[self.REASONS] = reasons_width
        option = QStyleOptionViewItem()
        self.initViewItemOption(option)
        # The grid line takes a pixel of the cell, as the table lays its text out.
        grid = 1 if self.showGrid() else 0
        for row in range(self.rowCount()):
            height = self.verticalHeader().minimumSectionSize()
            for column in range(self.columnCount()):
                index = self.model().index(row, column)
                option.rect = QRect(0, 0, max(widths[column] - grid, 1), 1)
                hint = self.itemDelegateForIndex(index).sizeHint(option, index)
                height = max(height, hint.height() + grid)
            if self.rowHeight(row) != height:
                self.setRowHeight(row, height)


class ImportReportDialog(QDialog):
    """What an import did: how many records came in, and each row left out with its reasons."""

    def __init__(
        self, record_type: str, report: ImportReport, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setModal(True)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._record_type = record_type
        self.report = report
        self.summary = paragraph(self)
        self.summary.setObjectName("importSummary")
        self.rejected_summary = paragraph(self)
        self.rows = ReasonsTable(len(report.rejected), self)
        for number, rejected in enumerate(report.rejected):
            line = QTableWidgetItem()
            line.setData(Qt.ItemDataRole.UserRole, rejected.line)
            self.rows.setItem(number, 0, line)
            self.rows.setItem(number, 1, QTableWidgetItem("\n".join(rejected.reasons)))
        self.rows.setVisible(bool(report.rejected))
        self.rejected_summary.setVisible(bool(report.rejected) and report.sound > 0)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.rejected_summary)
        layout.addWidget(self.rows, 1)
        layout.addWidget(self.buttons)
        self.retranslate()
        self.rows.fit_rows()
        hold_window_size_hints(self, minimum_width=560)
        if report.rejected:
            self.resize(self.width(), max(self.height(), 360))

    def rejected_lines(self) -> list[tuple[str, str]]:
        """Each left-out row as shown: its line number and its reasons."""
        shown = []
        for n in range(self.rows.rowCount()):
            line, reasons = self.rows.item(n, 0), self.rows.item(n, 1)
            if line is not None and reasons is not None:
                shown.append((line.text(), reasons.text()))
        return shown

    def retranslate(self) -> None:
        self.setWindowTitle(_("Import report"))
        if self.report.rejected:
            # Nothing was imported: a file is imported whole or not at all.
            self.summary.setText(
                ngettext(
                    "Nothing was imported: {count} line needs fixing. Fix it in the file and "
                    "import the file again.",
                    "Nothing was imported: {count} lines need fixing. Fix them in the file and "
                    "import the file again.",
                    len(self.report.rejected),
                ).format(count=format_number(len(self.report.rejected)))
            )
        else:
            self.summary.setText(imported_text(self._record_type, self.report.imported))
        self.rejected_summary.setText(sound_text(self.report.sound))
        self.rows.setHorizontalHeaderLabels([_("Line"), _("What to fix")])
        for n in range(self.rows.rowCount()):
            item = self.rows.item(n, 0)
            if item is not None:
                item.setText(format_number(item.data(Qt.ItemDataRole.UserRole)))

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)
