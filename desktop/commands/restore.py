"""``minga restore FILE --profile-dir DIR``: a backup becomes the profile in an empty folder.

Nothing is written unless every byte of the backup verified. A profile that was enrolled in a
network comes back as a new device that must be enrolled again (``desktop.store.succession``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from desktop.commands import CommandError
from desktop.commands.backup import describe, terminal_progress
from desktop.commands.passphrase import add_passphrase_arguments, read_passphrase
from desktop.domain.translation import _
from desktop.store.backup import restore_backup
from desktop.store.errors import ProfileError
from desktop.store.profile import Profile, default_profile_dir
from desktop.store.succession import predecessor


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, metavar=_("FILE"), help=_("the backup to restore"))
    parser.add_argument(
        "--profile-dir",
        type=Path,
        metavar=_("DIR"),
        help=_("an empty or new folder for the profile (default: this computer's profile)"),
    )
    parser.add_argument(
        "--recovery-key-file",
        type=Path,
        metavar=_("FILE"),
        help=_(
            "open the backup with the recovery key in FILE instead of the passphrase; the "
            "passphrase read then becomes the restored profile's new one"
        ),
    )
    add_passphrase_arguments(parser)


def run(options: argparse.Namespace) -> int:
    folder = options.profile_dir or default_profile_dir()
    recovery_key = None
    if options.recovery_key_file is not None:
        try:
            lines = options.recovery_key_file.expanduser().read_text(encoding="utf-8").splitlines()
        except OSError as error:
            raise CommandError(
                _("cannot read the recovery key file {path}: {reason}").format(
                    path=options.recovery_key_file, reason=error.strerror or error
                )
            ) from None
        recovery_key = lines[0] if lines else ""
        passphrase = read_passphrase(options, _("New passphrase for the restored profile: "))
    else:
        passphrase = read_passphrase(options, _("Passphrase of the backup: "))
    restored: list[str] = []

    def note_predecessor(profile: Profile) -> None:
        old = predecessor(profile.engine)
        if old is not None:
            restored.append(old.fingerprint)

    try:
        summary = restore_backup(
            options.file,
            folder,
            None if recovery_key is not None else passphrase,
            recovery_key=recovery_key,
            new_passphrase=passphrase if recovery_key is not None else None,
            progress=terminal_progress(),
            after=note_predecessor,
        )
    except ProfileError as error:
        raise CommandError(error.user_message()) from None
    except OSError as error:
        raise CommandError(
            _("cannot write {path}: {reason}").format(path=folder, reason=error.strerror or error)
        ) from None
    print(_("Restored into {folder}: {details}").format(folder=folder, details=describe(summary)))
    if restored:
        print(
            _(
                "This computer is a new device in your network: enroll it with a new "
                "invitation, and ask an admin to remove the old device (fingerprint {fingerprint})."
            ).format(fingerprint=restored[0])
        )
    return 0
