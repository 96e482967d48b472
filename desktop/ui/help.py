"""Help at hand: a short guide in the person's language (Help ▸ Guide, F1) and About.

The guide is one Markdown file per language in ``resources/guide``, rendered read only; nothing
in it is fetched from anywhere.
"""

from __future__ import annotations

from pathlib import Path

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import QEvent, Qt, qVersion
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from desktop import __version__
from desktop.domain.translation import _, current_language, is_right_to_left
from desktop.ui import APP_NAME
from desktop.ui.forms import heading, hold_window_size_hints, paragraph

GUIDES = Path(__file__).resolve().parents[2] / "resources" / "guide"


def guide_text(language: str) -> str:
    """The guide in ``language`` (English when there is none in it)."""
    for code in (language, "en"):
        path = GUIDES / f"{code}.md"
        if path.is_file():
            return path.read_text(encoding="utf-8")
    return ""


class GuideDialog(QDialog):
    """The guide, in the interface's language and direction; follows a change of language."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("guideDialog")
        self.browser = QTextBrowser(self)
        self.browser.setOpenLinks(False)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser, 1)
        layout.addWidget(buttons)
        self.retranslate()
        hold_window_size_hints(self)
        self.resize(640, 560)

    def retranslate(self) -> None:
        self.setWindowTitle(_("Guide — {app}").format(app=APP_NAME))
        self.browser.setMarkdown(guide_text(current_language()))
        direction = (
            Qt.LayoutDirection.RightToLeft if is_right_to_left() else Qt.LayoutDirection.LeftToRight
        )
        self.browser.setLayoutDirection(direction)
        option = self.browser.document().defaultTextOption()
        option.setTextDirection(direction)
        self.browser.document().setDefaultTextOption(option)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)


class AboutDialog(QDialog):
    """The app's name, version, licence, and what it is built on."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("aboutDialog")
        self.title = heading(self)
        self.version = QLabel(self)
        self.version.setObjectName("aboutVersion")
        self.text = paragraph(self)
        self.built_on = paragraph(self)
        self.built_on.setProperty("role", "hint")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        for widget in (self.title, self.version, self.text, self.built_on):
            layout.addWidget(widget)
        layout.addWidget(buttons)
        self.retranslate()
        hold_window_size_hints(self, minimum_width=420)

    def retranslate(self) -> None:
        self.setWindowTitle(_("About {app}").format(app=APP_NAME))
        self.title.setText(APP_NAME)
        # The version is a code: kept left to right inside any sentence.
        self.version.setText(_("Version {version}").format(version=f"\u2066{__version__}\u2069"))
        self.text.setText(
            _(
                "An offline-first, end-to-end encrypted app for the members of a rights "
                "network: documentation, directory, working groups and solidarity alerts. "
                "Free software under the GNU Affero General Public License, version 3 or later."
            )
        )
        self.built_on.setText(
            _("Built on Qt {qt} and PySide6 {pyside}.").format(qt=qVersion(), pyside=pyside_version)
        )

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)
