"""Start Minga: ``minga`` or ``python -m desktop``, with an optional profile folder and language.

``MINGA_PROFILE_DIR`` also chooses the folder; ``--profile-dir`` wins over it.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from desktop.domain.translation import (
    LANGUAGES,
    _,
    current_language,
    normalize_language,
    set_language,
)

if TYPE_CHECKING:
    from PySide6.QtCore import QCoreApplication

log = logging.getLogger("desktop.main")


#: Qt's own command-line options (QApplication/QGuiApplication), which the app passes on to Qt;
#: those in the first set take a value.
QT_OPTIONS_WITH_VALUE = frozenset(
    {
        "-platform",
        "-platformpluginpath",
        "-platformtheme",
        "-plugin",
        "-style",
        "-stylesheet",
        "-qwindowgeometry",
        "-qwindowtitle",
        "-qwindowicon",
        "-session",
        "-display",
        "-geometry",
    }
)
QT_FLAGS = frozenset({"-reverse", "-widgetcount", "-nograb", "-dograb", "-sync"})


def parse_arguments(argv: Sequence[str]) -> argparse.Namespace:
    """The app's options; anything else but Qt's own options is refused with the usage (exit 2)."""
    from desktop.commands import command_names

    parser = argparse.ArgumentParser(
        prog="minga",
        description=_("Minga: the rights network's encrypted, offline-first workspace."),
        epilog=_("Commands: {commands}. See 'minga COMMAND --help'.").format(
            commands=", ".join(command_names())
        )
        if command_names()
        else None,
    )
    parser.add_argument(
        "--profile-dir",
        type=Path,
        metavar=_("FOLDER"),
        help=_("the folder that holds your encrypted profile (default: $MINGA_PROFILE_DIR)"),
    )
    parser.add_argument(
        "--language",
        choices=LANGUAGES,
        help=_(
            "the interface language for this run; the language stored in the profile's "
            "settings is not changed"
        ),
    )
    options, rest = parser.parse_known_args(list(argv))
    unknown: list[str] = []
    index = 0
    while index < len(rest):
        word = rest[index]
        if word in QT_OPTIONS_WITH_VALUE:
            index += 2
            continue
        if word not in QT_FLAGS:
            unknown.append(word)
        index += 1
    if unknown:
        parser.error(_("unknown command or option: {words}").format(words=" ".join(unknown)))
    return options


def main(argv: Sequence[str] | None = None) -> int:
    arguments = sys.argv if argv is None else ["minga", *argv]
    if len(arguments) == 3 and arguments[1] == "--self-test":
        # Checks an installed build with no window and no Qt (see desktop/selftest.py).
        from desktop.selftest import run_self_test

        return run_self_test(Path(arguments[2]))
    from desktop.commands import is_command, run_command

    if is_command(arguments[1:]):
        # A command speaks the terminal's language (the app asks Qt for the system's; commands
        # never import Qt): LC_ALL, then LC_MESSAGES, then LANG, as gettext reads them.
        terminal = next(
            (
                os.environ[name]
                for name in ("LC_ALL", "LC_MESSAGES", "LANG")
                if os.environ.get(name)
            ),
            None,
        )
        set_language(normalize_language(terminal))
        return run_command(arguments[1:])
    # Minga's own events at INFO; libraries (Alembic is chatty) only when something is wrong.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("desktop").setLevel(logging.INFO)
    # No QApplication exists until the arguments are read: `minga --help` opens no window.
    from desktop.ui.language import system_language

    set_language(system_language())
    options = parse_arguments(arguments[1:])

    from desktop.app import create_application
    from desktop.store.profile import default_profile_dir
    from desktop.ui.language import first_language
    from desktop.ui.main_window import MainWindow

    folder = (options.profile_dir or default_profile_dir()).expanduser()
    set_language(first_language(folder, options.language))
    # Qt keeps its own options (-platform, -style…) and ignores ours.
    application = create_application(arguments)
    window = MainWindow(folder, language=options.language)
    # However the app ends (window closed, Ctrl+C, a session logout), it locks on the way out.
    application.aboutToQuit.connect(window.lock)
    _quit_on_signals(application)
    window.show()
    log.info("started in %s with the profile folder %s", current_language(), folder)
    return application.exec()


def _quit_on_signals(application: QCoreApplication) -> None:
    """Ctrl+C or a polite kill quits cleanly (and so locks) instead of dying mid-write."""
    from PySide6.QtCore import QTimer

    def quit_now(_signal: int, _frame: object) -> None:
        application.quit()

    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, quit_now)
    # Python runs signal handlers only between bytecodes; a light tick lets it in.
    tick = QTimer(application)
    tick.timeout.connect(lambda: None)
    tick.start(500)


if __name__ == "__main__":
    sys.exit(main())
