"""Start Minga: ``minga`` or ``python -m desktop``, with an optional profile folder and language.

``MINGA_PROFILE_DIR`` also chooses the folder; ``--profile-dir`` wins over it.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from desktop.domain.translation import LANGUAGES, _, set_language


def parse_arguments(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="minga",
        description=_("Minga: the rights network's encrypted, offline-first workspace."),
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
        help=_("the interface language to start in"),
    )
    return parser.parse_known_args(list(argv))[0]


def main(argv: Sequence[str] | None = None) -> int:
    arguments = sys.argv if argv is None else ["minga", *argv]
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # Imported here so that `minga --help` answers without starting Qt.
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
    window = MainWindow(folder)
    window.show()
    return application.exec()


if __name__ == "__main__":
    sys.exit(main())
