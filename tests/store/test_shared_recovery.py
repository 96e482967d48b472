"""Shared recovery: the secret split with SLIP-39, any k shares open the profile, k−1 nothing;
re-issued shares retire the old ones; a backup opens with shares too."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import shamir_mnemonic

from desktop.domain.translation import set_language
from desktop.store.backup import restore_backup, verify_backup, write_backup
from desktop.store.errors import WrongPassphrase, WrongRecoveryKey
from desktop.store.profile import KEY_FILE, unlock
from desktop.store.records import RecordStore
from desktop.store.shared_recovery import (
    SHARES_FILE,
    SharesRefused,
    issue_shares,
    open_share,
    read_share_set,
    seal_to_members,
    share_records,
    unlock_with_shares,
)
from desktop.store.spaces import local_spaces
from sync.crypto.keys import DeviceKeys
from tests.helpers.profiles import PASSPHRASE, new_profile

NEW = "a new passphrase after the trauma"


@pytest.fixture(autouse=True)
def _english() -> None:
    set_language("en")


def _refused(folder: Path, shares: list[str], reason: str) -> None:
    before = (folder / KEY_FILE).read_bytes()
    with pytest.raises(SharesRefused) as refusal:
        unlock_with_shares(folder, shares, NEW)
    assert refusal.value.reason == reason
    assert refusal.value.user_message()
    assert (folder / KEY_FILE).read_bytes() == before  # nothing changed
    unlock(folder, PASSPHRASE).close()  # the old passphrase still opens it


@pytest.mark.parametrize(("threshold", "count"), [(2, 3), (3, 5)])
def test_any_k_shares_open_the_profile_and_k_minus_1_open_nothing(
    tmp_path: Path, threshold: int, count: int
) -> None:
    folder = tmp_path / "p"
    profile, _ = new_profile(folder)
    issued = issue_shares(profile, threshold, count)
    profile.close()
    assert len(issued.mnemonics) == count
    assert all(len(words.split()) == 33 for words in issued.mnemonics)  # printable: 33 words
    assert read_share_set(folder) == issued.share_set

    for fewer in itertools.combinations(issued.mnemonics, threshold - 1):
        _refused(folder, list(fewer), "too_few")
        # Not even the library, asked directly, makes a secret of them.
        with pytest.raises(shamir_mnemonic.MnemonicError):
            shamir_mnemonic.combine_mnemonics(list(fewer))
    # The same share twice is still one share.
    _refused(folder, [issued.mnemonics[0]] * threshold, "too_few")

    subsets = list(itertools.combinations(issued.mnemonics, threshold))
    for index, subset in enumerate(subsets if count == 3 else subsets[:3]):
        passphrase = f"{NEW} {index}"
        # As typed by a person: other case, extra spaces, and in any order.
        typed = ["  " + words.upper().replace(" ", "   ") for words in reversed(subset)]
        unlock_with_shares(folder, typed, passphrase).close()
        with pytest.raises(WrongPassphrase):
            unlock(folder, PASSPHRASE if index == 0 else f"{NEW} {index - 1}")
        unlock(folder, passphrase).close()


def test_a_mistyped_share_is_named_and_a_foreign_one_refused(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    profile, _ = new_profile(folder)
    issued = issue_shares(profile, 2, 3)
    profile.close()
    words = issued.mnemonics[0].split()
    words[5] = "zebra" if words[5] != "zebra" else "academic"
    _refused(folder, [" ".join(words), issued.mnemonics[1]], "mistyped")

    other, _ = new_profile(tmp_path / "other")
    foreign = issue_shares(other, 2, 3)
    other.close()
    _refused(folder, list(foreign.mnemonics[:2]), "retired")
    _refused(folder, [issued.mnemonics[0], foreign.mnemonics[1]], "mixed")


def test_reissued_shares_retire_the_old_ones(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    profile, _ = new_profile(folder)
    old = issue_shares(profile, 2, 3)
    before = tmp_path / "before.mingabackup"
    write_backup(profile, before)
    new = issue_shares(profile, 2, 3)
    after = tmp_path / "after.mingabackup"
    write_backup(profile, after)
    profile.close()
    assert new.share_set.identifier != old.share_set.identifier
    _refused(folder, list(old.mnemonics[:2]), "retired")
    # Even asked to bypass the identifier check, the old secret does not open the new wrap.
    secret = shamir_mnemonic.combine_mnemonics(list(old.mnemonics[:2]))
    with pytest.raises(SharesRefused):
        new.share_set.open(secret)
    unlock_with_shares(folder, list(new.mnemonics[1:]), NEW).close()

    # Backups: one taken after the re-issue opens only with the new shares. One taken before
    # still opens with the old ones (it is as old as they are; see SECURITY.md).
    with pytest.raises(SharesRefused):
        verify_backup(after, shares=list(old.mnemonics[:2]))
    verify_backup(after, shares=list(new.mnemonics[:2]))
    verify_backup(before, shares=list(old.mnemonics[:2]))
    restored = tmp_path / "restored"
    with pytest.raises(SharesRefused):
        restore_backup(after, restored, shares=[new.mnemonics[0]], new_passphrase=NEW)
    assert not restored.exists()
    restore_backup(after, restored, shares=list(new.mnemonics[::2]), new_passphrase=NEW)
    unlock(restored, NEW).close()
    assert (restored / SHARES_FILE).is_file()


def test_sealed_shares_open_only_on_their_holder(tmp_path: Path) -> None:
    profile, _ = new_profile(tmp_path / "p")
    issued = issue_shares(profile, 2, 3)
    holders = [DeviceKeys.generate() for _ in range(3)]
    space = local_spaces(RecordStore(profile.engine)).network.id
    records = seal_to_members(
        profile, issued, space=space, owner="Alba", holders=[h.public for h in holders]
    )
    assert {r.id for r in share_records(profile.engine)} == {r.id for r in records}
    for record, holder, words in zip(records, holders, issued.mnemonics, strict=True):
        assert open_share(record, holder) == words
        assert words not in record.sealed
    with pytest.raises(WrongRecoveryKey):
        open_share(records[0], holders[1])
    # A sealed share moved onto another record (another id) does not open.
    moved = type(records[0])(**{**_fields(records[0]), "id": records[1].id})
    with pytest.raises(WrongRecoveryKey):
        open_share(moved, holders[0])
    profile.close()


def _fields(record: object) -> dict[str, object]:
    from dataclasses import fields

    return {f.name: getattr(record, f.name) for f in fields(record)}  # type: ignore[arg-type]


def test_another_persons_shares_are_not_called_retired(tmp_path: Path) -> None:
    """Someone types a colleague's shares by mistake: the refusal says they may belong to
    another person, not only that they were replaced (which sends them hunting for newer ones)."""
    from desktop.store.shared_recovery import SharesRefused, combine, issue_shares, read_share_set

    set_language("en")
    mine, _ = new_profile(tmp_path / "mine")
    theirs, _ = new_profile(tmp_path / "theirs")
    issue_shares(mine, 2, 3)
    other = issue_shares(theirs, 2, 3)
    with pytest.raises(SharesRefused) as refusal:
        combine(list(other.mnemonics[:2]), read_share_set(mine.folder))
    assert "another person" in refusal.value.user_message()
    mine.close()
    theirs.close()
