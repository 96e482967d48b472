"""Choosing the interface language: the selector every screen shows, and the first language.

Before unlock the language comes from the profile's device hint, else from the system locale.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QLocale, QSignalBlocker, Qt, Signal
from PySide6.QtWidgets import QComboBox, QWidget

from desktop.domain.translation import (
    LANGUAGES,
    NATIVE_NAMES,
    _,
    current_language,
    normalize_language,
)
from desktop.store.profile import read_device_hints


def system_language() -> str:
    """The working language closest to the system's locale (English when none is close)."""
    return normalize_language(QLocale.system().name())


def first_language(folder: Path, requested: str | None = None) -> str:
    """The language to start in: ``--language``, else the profile's hint, else the system's."""
    if requested:
        return normalize_language(requested)
    hinted = read_device_hints(folder).get("language")
    if isinstance(hinted, str) and hinted in LANGUAGES:
        return hinted
    return system_language()


class LanguageSelector(QComboBox):
    """The languages, each in its own name, so a person who reads only one can find it.

    Signals:
        language_chosen(str): the person picked a language (a code such as ``"ar"``).
    """

    language_chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("languageSelector")
        for code in LANGUAGES:
            self.addItem(NATIVE_NAMES[code], code)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.show_language(current_language())
        self.activated.connect(self._picked)
        self.retranslate()

    def show_language(self, code: str) -> None:
        """Select ``code`` without announcing it as the person's choice."""
        with QSignalBlocker(self):
            self.setCurrentIndex(max(0, self.findData(code)))

    def retranslate(self) -> None:
        self.setAccessibleName(_("Language"))
        self.setToolTip(_("Language"))
        self.show_language(current_language())

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)

    def _picked(self, index: int) -> None:
        code = self.itemData(index, Qt.ItemDataRole.UserRole)
        if isinstance(code, str):
            self.language_chosen.emit(code)
