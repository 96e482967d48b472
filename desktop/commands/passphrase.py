"""Where a command gets the passphrase: ``--passphrase-file``, ``MINGA_PASSPHRASE``, the terminal.

The same order restic uses, so a script can feed it without a terminal and a person is asked
without the passphrase echoing or reaching the shell history.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

from desktop.commands import CommandError
from desktop.domain.translation import _

ENVIRONMENT_VARIABLE = "MINGA_PASSPHRASE"


def add_passphrase_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--passphrase-file",
        type=Path,
        metavar=_("FILE"),
        help=_(
            "read the passphrase from the first line of FILE (else $MINGA_PASSPHRASE, else ask)"
        ),
    )


def read_passphrase(options: argparse.Namespace, prompt: str | None = None) -> str:
    """The passphrase from the file, the environment or the terminal, in that order."""
    path: Path | None = getattr(options, "passphrase_file", None)
    if path is not None:
        try:
            text = path.expanduser().read_text(encoding="utf-8")
        except OSError as error:
            raise CommandError(
                _("cannot read the passphrase file {path}: {reason}").format(
                    path=path, reason=error.strerror or error
                )
            ) from error
        lines = text.splitlines()
        passphrase = lines[0] if lines else ""
        if not passphrase:
            raise CommandError(_("the passphrase file {path} is empty").format(path=path))
        return passphrase
    from_environment = os.environ.get(ENVIRONMENT_VARIABLE)
    if from_environment:
        return from_environment
    if not sys.stdin.isatty():
        raise CommandError(
            _("no passphrase: give --passphrase-file or set MINGA_PASSPHRASE, or run in a terminal")
        )
    return getpass.getpass(prompt or _("Passphrase: "))
