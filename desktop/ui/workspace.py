"""The unlocked workspace: navigation between the five sections, each a page of its own.

Pages come from the section registry, built for the open profile; the rest say what will be there.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QSize, Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.domain.translation import _
from desktop.store.profile import Profile
from desktop.ui.section_catalog import SECTIONS, Section
from desktop.ui.sections import SECTION_PAGES

__all__ = ["SECTIONS", "Section", "Workspace"]


class EmptyState(QWidget):
    """A section with nothing in it yet: a title and a sentence saying what will be here."""

    def __init__(self, section: Section, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.section = section
        # A column of readable width, centred: wrapped labels get their height from its width.
        column = QWidget(self)
        column.setMaximumWidth(560)
        self.title = QLabel(column)
        self.title.setProperty("role", "heading")
        self.title.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self.title.setWordWrap(True)
        self.text = QLabel(column)
        self.text.setProperty("role", "empty")
        self.text.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self.text.setWordWrap(True)
        column_layout = QVBoxLayout(column)
        column_layout.addWidget(self.title)
        column_layout.addSpacing(8)
        column_layout.addWidget(self.text)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(column, 4)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addLayout(row)
        layout.addStretch(2)
        self.retranslate()

    def retranslate(self) -> None:
        self.title.setText(_(self.section.empty_title))
        self.text.setText(_(self.section.empty_text))

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)


class Workspace(QWidget):
    """Navigation on the leading side, the chosen section's page beside it.

    Each page is built for ``profile`` from :data:`SECTION_PAGES`; :meth:`tear_down` deletes
    them all at lock, so no record text outlives the keys.

    Signals:
        section_changed(str): the key of the section now shown.
    """

    section_changed = Signal(str)

    def __init__(self, profile: Profile, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.profile = profile
        self.navigation = QListWidget(self)
        self.navigation.setObjectName("navigation")
        self.navigation.setIconSize(QSize(0, 0))
        self.navigation.setUniformItemSizes(True)
        self.navigation.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.pages = QStackedWidget(self)
        self.pages_by_key: dict[str, QWidget] = {}
        for section in SECTIONS:
            item = QListWidgetItem(self.navigation)
            item.setData(Qt.ItemDataRole.UserRole, section.key)
            factory = SECTION_PAGES.get(section.key)
            page = factory(profile, self.pages) if factory else EmptyState(section, self.pages)
            page.setObjectName(f"{section.key}Page")
            self.pages.addWidget(page)
            self.pages_by_key[section.key] = page
        self.navigation.currentRowChanged.connect(self._row_changed)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.navigation)
        layout.addWidget(self.pages, 1)
        self.retranslate()
        self.navigation.setCurrentRow(0)

    @property
    def current_section(self) -> Section:
        return SECTIONS[max(0, self.navigation.currentRow())]

    def show_section(self, key: str) -> None:
        for row, section in enumerate(SECTIONS):
            if section.key == key:
                self.navigation.setCurrentRow(row)
                return
        raise KeyError(key)

    def page(self, key: str) -> QWidget:
        return self.pages_by_key[key]

    def tear_down(self) -> None:
        """Delete every page now (not later): they hold record text the lock must clear."""
        for page in self.pages_by_key.values():
            closing = getattr(page, "tear_down", None)
            if callable(closing):
                closing()  # a page stops its jobs and drops its rows before it goes
            self.pages.removeWidget(page)
            page.hide()
            page.deleteLater()
        self.pages_by_key.clear()

    def navigation_labels(self) -> list[str]:
        return [self.navigation.item(row).text() for row in range(self.navigation.count())]

    def _row_changed(self, row: int) -> None:
        if 0 <= row < len(SECTIONS):
            self.pages.setCurrentIndex(row)
            self.section_changed.emit(SECTIONS[row].key)

    def retranslate(self) -> None:
        for row, section in enumerate(SECTIONS):
            self.navigation.item(row).setText(_(section.label))
        # Wide enough for the longest label in this language, never a fixed English width.
        widest = max(self.navigation.sizeHintForColumn(0), 120)
        self.navigation.setFixedWidth(widest + 2 * self.navigation.frameWidth() + 32)
        self.navigation.setAccessibleName(_("Sections"))

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)
