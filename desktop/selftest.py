"""`minga --self-test FOLDER`: proves an installed build works end to end, with no window.

Creates a profile, locks, unlocks, saves and reads a record, for smoke tests of frozen builds.
"""

from __future__ import annotations

import secrets
import sys
from datetime import date
from pathlib import Path

from desktop.domain.dates import PartialDate
from desktop.domain.records import Incident, IncidentStatus, Space, SpaceKind, new_id
from desktop.domain.translation import _, set_language
from desktop.domain.vocabularies import COUNTRIES, default_vocabularies
from desktop.store.backup import SUFFIX, verify_backup, write_backup
from desktop.store.errors import WrongPassphrase
from desktop.store.migrate import current_revision, head_revision
from desktop.store.profile import create_profile, unlock
from desktop.store.records import RecordStore
from desktop.store.shared_recovery import issue_shares

#: A string every shipped catalogue translates; if it comes back in English, none was found.
#: The domain's own "required" error: the --language help text served before and changed
#: wording (the self-test then failed on a sound build).
PROBE = "This field is required."


class SelfTestFailed(Exception):
    """One check of the self-test did not hold; the message says which."""


def _check(condition: bool, what: str) -> None:
    if not condition:
        raise SelfTestFailed(what)


def _check_data_files() -> None:
    """The catalogues and vocabularies are files; a build that forgot them fails here."""
    for language in ("es", "fr", "ar"):
        _check(set_language(language) == language, f"no {language} catalogue")
        _check(_(PROBE) != PROBE, f"the {language} catalogue translates nothing")
    set_language("en")
    label = default_vocabularies().label(COUNTRIES, "co", "es")
    _check(label != "co", "the country vocabulary has no labels")


def _check_profile(folder: Path) -> None:
    # A throwaway passphrase: the folder is the caller's scratch space, never a real profile.
    passphrase = secrets.token_urlsafe(24)
    space_id = new_id()
    space = Space(id=space_id, space_id=space_id, name="Self-test", kind=SpaceKind.ONLY_ME)
    incident = Incident(
        space_id=space_id,
        title="Self-test incident",
        start_date=PartialDate(2024, 3, 1),
        country="co",
        rights=("housing",),
        status=IncidentStatus.DOCUMENTED,
    )
    # The real key derivation (calibrated Argon2id), as a member's first start would run it.
    profile, recovery_key = create_profile(folder, passphrase)
    _check(bool(recovery_key), "no recovery key was shown")
    with profile:
        _check(
            current_revision(profile.engine) == head_revision(),
            "the profile's schema is not at the newest migration",
        )
        store = RecordStore(profile.engine)
        store.save(space, today=date(2024, 4, 1))
        store.save(incident, today=date(2024, 4, 1))
    try:
        unlock(folder, passphrase + "-wrong").close()
    except WrongPassphrase:
        pass
    else:
        raise SelfTestFailed("a wrong passphrase unlocked the profile")
    with unlock(folder, passphrase) as reopened:
        read_back = RecordStore(reopened.engine).get(incident.id)
        # A backup and shared recovery: the SLIP-39 word list is a data file of its package.
        issued = issue_shares(reopened, 2, 3)
        backup = folder.parent / f"{folder.name}-self-test{SUFFIX}"
        write_backup(reopened, backup)
    _check(read_back == incident, "the saved incident did not read back the same")
    try:
        verify_backup(backup, shares=list(issued.mnemonics[1:]))
    finally:
        backup.unlink()


def run_self_test(folder: Path) -> int:
    """Run every check in ``folder`` (which must not hold a profile); 0 and "OK" when all hold."""
    try:
        _check_data_files()
        _check_profile(folder)
    except Exception as error:  # any failure, ours or the store's, is the answer to report
        print(f"self-test FAILED: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    print("OK")
    return 0
