"""``minga quick-delete --profile-dir DIR [--yes]``: erase a profile without its passphrase.

For a hardware button or a script: ``--yes`` skips the one question. The keys go first
(``desktop.store.quick_delete``), so even a command killed halfway leaves nothing readable.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from desktop.commands import CommandError
from desktop.domain.translation import _, ngettext
from desktop.store.profile import default_profile_dir
from desktop.store.quick_delete import holds_a_profile, quick_delete


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--profile-dir",
        type=Path,
        metavar=_("DIR"),
        help=_("the profile folder (default: this computer's Minga profile)"),
    )
    parser.add_argument(
        "--yes",
        action="store_true",
        help=_("do not ask: delete at once (for a button or a script)"),
    )


def run(options: argparse.Namespace) -> int:
    folder: Path = (options.profile_dir or default_profile_dir()).expanduser()
    if not holds_a_profile(folder):
        raise CommandError(_("there is no Minga profile in {folder}").format(folder=folder))
    if not options.yes:
        if not sys.stdin.isatty():
            raise CommandError(_("not asked: add --yes to delete without a question"))
        answer = input(
            _(
                "Delete the Minga profile in {folder} from this computer for good? Neither the "
                "passphrase nor the recovery key will open it again, and changes not yet sent "
                "to the server are lost. Type “delete” to confirm: "
            ).format(folder=folder)
        )
        if answer.strip().casefold() not in {"delete", _("delete").casefold()}:
            print(_("Nothing was deleted."))
            return 1
    left = quick_delete(folder)
    if left:
        print(
            ngettext(
                "The keys are destroyed: nothing of the profile can be read. {count} file could "
                "not be removed (still open?): {first}",
                "The keys are destroyed: nothing of the profile can be read. {count} files could "
                "not be removed (still open?): {first}",
                len(left),
            ).format(count=len(left), first=left[0]),
            file=sys.stderr,
        )
        return 1
    print(_("The Minga profile in {folder} was deleted.").format(folder=folder))
    return 0
