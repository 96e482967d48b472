"""``minga backup``: write one encrypted file holding the whole profile, or check one.

``minga backup --profile-dir DIR --to FILE`` unlocks the profile (the app may have it open: the
copy is consistent all the same) and writes the backup; ``minga backup --verify FILE`` opens
and checks every byte of a backup without restoring anything.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from desktop.commands import CommandError
from desktop.commands.passphrase import add_passphrase_arguments, read_passphrase
from desktop.domain.translation import _, ngettext
from desktop.store.backup import BackupSummary, Progress, verify_backup, write_backup
from desktop.store.errors import ProfileError
from desktop.store.profile import default_profile_dir, unlock


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--profile-dir",
        type=Path,
        metavar=_("DIR"),
        help=_("the profile to back up (default: this computer's profile)"),
    )
    parser.add_argument(
        "--to", type=Path, metavar=_("FILE"), help=_("write the backup to FILE (must not exist)")
    )
    parser.add_argument(
        "--verify",
        type=Path,
        metavar=_("FILE"),
        help=_("check the backup FILE without restoring it"),
    )
    add_passphrase_arguments(parser)


def terminal_progress() -> Progress | None:
    """A percentage on standard error when it is a terminal; nothing for scripts."""
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        percent = 100 * done // total if total else 100
        print(f"\r{percent:3d} %", end="", file=sys.stderr, flush=True)

    return show


def describe(summary: BackupSummary) -> str:
    files = ngettext("{count} file", "{count} files", summary.attachments).format(
        count=summary.attachments
    )
    return _("{size} MB, taken {moment}; database and {files}").format(
        size=f"{summary.size / 1_000_000:.1f}", moment=summary.created_at, files=files
    )


def run(options: argparse.Namespace) -> int:
    if options.verify is not None:
        if options.to is not None or options.profile_dir is not None:
            raise CommandError(_("--verify takes only the backup file and the passphrase"))
        passphrase = read_passphrase(options, _("Passphrase of the backup: "))
        try:
            summary = verify_backup(options.verify, passphrase, progress=terminal_progress())
        except ProfileError as error:
            raise CommandError(error.user_message()) from None
        print(_("{name}: intact. {details}").format(name=options.verify, details=describe(summary)))
        return 0
    if options.to is None:
        raise CommandError(_("say where to write the backup: --to FILE (or --verify FILE)"))
    folder = options.profile_dir or default_profile_dir()
    passphrase = read_passphrase(options)
    try:
        with unlock(folder, passphrase) as profile:
            summary = write_backup(profile, options.to, terminal_progress())
    except ProfileError as error:
        raise CommandError(error.user_message()) from None
    except OSError as error:
        raise CommandError(
            _("cannot write {path}: {reason}").format(
                path=options.to, reason=error.strerror or error
            )
        ) from None
    print(
        _("Backup written to {name}: {details}").format(name=options.to, details=describe(summary))
    )
    return 0
