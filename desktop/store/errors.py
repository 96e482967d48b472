"""Errors a person can cause when opening or changing a profile, each with a translated message.

The message is translated when it is shown (``user_message``), not when raised, so an error
raised on a worker thread reads correctly in whatever language the window speaks by then.
"""

from __future__ import annotations

from typing import ClassVar

from desktop.domain.translation import N_, _


class ProfileError(Exception):
    """Base of every profile error; ``code`` is stable for logs and tests."""

    code = "profile_error"
    message = N_("The profile could not be opened.")

    def __init__(self, detail: str = "") -> None:
        # ``detail`` is for logs and developers only: never secrets, never record content.
        super().__init__(detail or self.code)
        self.detail = detail

    def user_message(self) -> str:
        return _(self.message)


class WrongPassphrase(ProfileError):
    code = "wrong_passphrase"
    message = N_("That passphrase is not right. Nothing was changed; please try again.")


class WrongRecoveryKey(ProfileError):
    code = "wrong_recovery_key"
    message = N_("That recovery key does not open this profile. Nothing was changed.")


class MistypedRecoveryKey(WrongRecoveryKey):
    code = "mistyped_recovery_key"
    message = N_(
        "That recovery key has a typing mistake: check each group of letters and digits "
        "against your printed copy."
    )


#: Shortest passphrase accepted; a few unrelated words easily pass it.
PASSPHRASE_MIN_LENGTH = 10


class WeakPassphrase(ProfileError):
    code = "weak_passphrase"
    message = N_(
        "Choose a longer passphrase: at least {minimum} characters. A few unrelated words "
        "are easy to remember and hard to guess."
    )

    def user_message(self) -> str:
        return _(self.message).format(minimum=PASSPHRASE_MIN_LENGTH)


class ProfileNotFound(ProfileError):
    code = "profile_not_found"
    message = N_("There is no Minga profile in this folder yet.")


class ProfileExists(ProfileError):
    code = "profile_exists"
    message = N_("A profile already exists in this folder; it was left untouched.")


class WeakKdfParameters(ProfileError):
    code = "weak_kdf_parameters"
    message = N_(
        "This profile's key file asks for weaker protection than Minga allows. It may have "
        "been tampered with, so it was not opened."
    )


class ProfileDamaged(ProfileError):
    code = "profile_damaged"
    message = N_(
        "This profile's files are damaged or do not belong together, so it could not be "
        "opened. Nothing was changed."
    )


class ProfileLocked(ProfileError):
    code = "profile_locked"
    message = N_("The profile is locked. Unlock it to continue.")


class AttachmentDamaged(ProfileError):
    """An encrypted attachment failed its checks; ``reason`` is the stream's code."""

    code = "attachment_damaged"
    message = N_(
        "This file has been altered or damaged since it was imported, so Minga will not open "
        "it. The original can be imported again."
    )
    _REASONS: ClassVar[dict[str, str]] = {
        "truncated": N_(
            "This file is incomplete: it was cut short after it was imported, so Minga will "
            "not open it. The original can be imported again."
        ),
        "missing": N_(
            "This file is missing from the profile folder. It may still be downloaded again "
            "or imported from the original."
        ),
    }

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail or reason)
        self.reason = reason

    def user_message(self) -> str:
        return _(self._REASONS.get(self.reason, self.message))


class MalformedFile(ProfileError):
    """A file to import that cannot be read as a whole; nothing was imported."""

    code = "malformed_file"
    _REASONS: ClassVar[dict[str, str]] = {
        "encoding": N_(
            "This file is not UTF-8 text. In your spreadsheet, save it as “CSV UTF-8” and "
            "try again. Nothing was imported."
        ),
        "empty": N_("This file is empty. Nothing was imported."),
        "too_large": N_("This file is larger than {limit} MB. Split it into smaller files."),
        "unreadable": N_("This file is not a CSV table Minga can read. Nothing was imported."),
        "missing_columns": N_(
            "This file has no “{columns}” column, which Minga needs. Nothing was imported."
        ),
        "unknown_columns": N_(
            "Minga does not know these columns: {columns}. Rename or remove them and try "
            "again. Nothing was imported."
        ),
        "too_many_rows": N_("This file has more than {limit} rows. Split it into smaller files."),
    }
    message = N_("This file is not a CSV table Minga can read. Nothing was imported.")

    def __init__(self, reason: str, **details: object) -> None:
        super().__init__(reason)
        self.reason = reason
        self.details = details

    def user_message(self) -> str:
        return _(self._REASONS.get(self.reason, self.message)).format(**self.details)
