"""The QApplication Minga runs in: name, icon, style, and the Qt side of switching languages.

gettext (``desktop.domain.translation``) leads; Qt's own strings, locale and direction follow it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import (
    QCoreApplication,
    QEvent,
    QLibraryInfo,
    QLocale,
    QSettings,
    Qt,
    QTranslator,
)
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from desktop.domain import translation
from desktop.ui import APP_NAME
from desktop.ui.jobs import shutdown_jobs

RESOURCES = Path(__file__).resolve().parents[1] / "resources"
ICON_PATH = RESOURCES / "icons" / "minga.svg"

#: Qt locale per working language. Arabic is "ar_001" (Modern Standard Arabic) because its
#: numbers use the same digits Babel's "ar" does; plain "ar" would mean Egyptian conventions.
QT_LOCALES: dict[str, str] = {"en": "en_US", "es": "es", "fr": "fr", "ar": "ar_001"}

STYLE_SHEET = """
QLabel[role="heading"] { font-size: 17pt; font-weight: 600; }
QLabel#brand { font-size: 15pt; font-weight: 700; color: #2f5d50; }
QLabel[role="error"] { color: #a4161a; font-weight: 600; }
QToolButton[popupMode="2"] { padding-right: 16px; }
QToolButton[popupMode="2"]:right-to-left { padding-right: 4px; padding-left: 16px; }
QLabel[role="success"] { color: #1b6b2f; font-weight: 600; }
QLabel[tone="error"] { color: #a4161a; font-weight: 600; }
QLabel[tone="warning"] { color: #8a4b00; font-weight: 600; }
QLabel[tone="success"] { color: #1b6b2f; }
QLabel[role="hint"] { color: #555555; }
QLabel[role="empty"] { color: #444444; font-size: 11pt; }
QLabel#recoveryKey {
    font-family: "DejaVu Sans Mono", "Noto Mono", monospace;
    font-size: 15pt; font-weight: 600; padding: 14px;
    border: 2px dashed #2f5d50; border-radius: 6px; background: #f6f8f7;
}
QLabel#lockState[locked="true"] { color: #a4161a; font-weight: 600; }
QLabel#lockState[locked="false"] { color: #2f5d50; font-weight: 600; }
QListWidget#navigation { font-size: 11pt; border: none; background: #eef2f0; padding-top: 8px; }
QListWidget#navigation::item { padding: 10px 14px; }
QListWidget#navigation::item:selected { background: #2f5d50; color: white; }
QStatusBar::item { border: none; }
QStatusBar QLabel { padding: 0 10px; }
QPushButton[role="link"] { border: none; color: #1d5fa8; text-decoration: underline; }
"""


class QtLanguage:
    """Keeps Qt's translators, default locale and layout direction in step with gettext's.

    It listens to ``desktop.domain.translation.set_language``, which must therefore be called
    on the UI thread (the settings dialog, the language selector and ``main`` all do).
    """

    def __init__(self, application: QApplication) -> None:
        self._application = application
        self._translators: list[QTranslator] = []
        self.language = ""

    def apply(self, language: str) -> None:
        application = self._application
        # Direction first: widgets retranslating next already see the right side.
        application.setLayoutDirection(
            Qt.LayoutDirection.RightToLeft
            if translation.is_right_to_left(language)
            else Qt.LayoutDirection.LeftToRight
        )
        QLocale.setDefault(QLocale(QT_LOCALES.get(language, language)))
        swapped = False
        for old in self._translators:
            swapped |= application.removeTranslator(old)
        self._translators = []
        folder = QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)
        for catalogue in ("qtbase",):
            translator = QTranslator(application)
            if translator.load(f"{catalogue}_{language}", folder):
                swapped |= application.installTranslator(translator)
                self._translators.append(translator)
        if not swapped:
            # Installing or removing a translator already tells every widget; when neither
            # happened (English to English), tell them ourselves so gettext strings refresh.
            QCoreApplication.sendEvent(application, QEvent(QEvent.Type.LanguageChange))
        self.language = language


_qt_language: QtLanguage | None = None


def prepare_application(application: QApplication) -> QApplication:
    """Name, icon, style and language wiring; safe to call twice on the same application."""
    global _qt_language
    if _qt_language is not None and _qt_language._application is application:
        return application
    application.setApplicationName(APP_NAME)
    application.setOrganizationName(APP_NAME)
    application.setDesktopFileName("minga")
    if ICON_PATH.is_file():
        application.setWindowIcon(QIcon(str(ICON_PATH)))
    application.setStyle("Fusion")
    application.setStyleSheet(STYLE_SHEET)
    leave_no_traces(application)
    application.aboutToQuit.connect(shutdown_jobs)
    if _qt_language is not None:
        translation.remove_language_listener(_qt_language.apply)
    _qt_language = QtLanguage(application)
    translation.on_language_change(_qt_language.apply)
    _qt_language.apply(translation.current_language())
    return application


#: Where Qt would keep its own settings: a path below a file, where nothing can ever be created.
_NOWHERE = os.path.join(os.devnull, "minga-keeps-no-settings")


def leave_no_traces(application: QApplication) -> None:
    """Nothing a person opens may be named in a file outside the profile (issue 12).

    Qt's own file dialog keeps the folders visited ("history", "lastVisited") in
    ~/.config/QtProject.conf, and the desktop's native dialogs add files to recent-document
    lists (GTK's recently-used.xbel, Windows' and macOS' recent items). So: Qt's dialog
    everywhere, and Qt's settings pointed where they cannot be written; within a session the
    dialog still remembers the last folder, in memory only. Minga keeps no QSettings of its
    own; everything it keeps is in the encrypted profile.
    """
    application.setAttribute(Qt.ApplicationAttribute.AA_DontUseNativeDialogs, True)
    # Ini everywhere (the Windows registry ignores setPath), and both scopes to nowhere.
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    for settings_format in (QSettings.Format.IniFormat, QSettings.Format.NativeFormat):
        for scope in (QSettings.Scope.UserScope, QSettings.Scope.SystemScope):
            QSettings.setPath(settings_format, scope, _NOWHERE)


def create_application(argv: Sequence[str]) -> QApplication:
    """The QApplication for a real run (tests use pytest-qt's and call ``prepare_application``)."""
    existing = QApplication.instance()
    application = existing if isinstance(existing, QApplication) else QApplication(list(argv))
    return prepare_application(application)
